"""Persistence: the database, the core's tables, migrations, cursors and the audit log."""
