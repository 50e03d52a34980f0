"""Reports: asynchronous report generation, signed expiring download links, scheduled reports."""

from __future__ import annotations
