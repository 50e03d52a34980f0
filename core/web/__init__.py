"""The HTTP face of the gateway: the app, middleware, route guards, webhooks and the ``/api`` routes."""
