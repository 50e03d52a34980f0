"""The loopback receiver now ships with the gateway's test kit (``core.testing``); re-exported here."""

from __future__ import annotations

from core.testkit.receiver import Received, Receiver, free_port, running_receiver

__all__ = ["Received", "Receiver", "free_port", "running_receiver"]
