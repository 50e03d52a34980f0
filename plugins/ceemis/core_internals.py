"""What this plugin needs from core beyond its public API, in one place (to be made public).

``uuid7``: a case's row is written when it is received, before the core stores its message,
so the plugin gives the message its id; the core's message ids are time-ordered (lists are
paginated by id), and this keeps them so.
"""

from __future__ import annotations

from core.ids import uuid7

__all__ = ["uuid7"]
