"""The flow of a message: ingest, routing, the outbox of deliveries, queues, the worker and the sweeper."""
