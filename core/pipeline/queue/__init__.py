"""Queue backends: ``local`` (in-process, the embedded default) and ``arq`` (Redis).

The queue only carries delivery ids; ``base.QueueBackend`` is what both offer. The gateway
chooses one from ``[queue] backend``.
"""
