"""Serving an ASGI app on a free loopback port, inside the test's event loop (now in the test kit).

The fakes of far-side systems (DHIS2, Meta's Graph API) and the delivery receiver are real
HTTP servers: the gateway's HTTP code is what the tests exercise.
"""

from __future__ import annotations

from core.testkit.receiver import free_port, serving

__all__ = ["free_port", "serving"]
