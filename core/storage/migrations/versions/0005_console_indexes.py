"""console indexes: the dashboard's window counts read an index, not the rows

Revision ID: 0005_console_indexes
Revises: 0004_destination_state
Create Date: 2026-11-29

``messages (received_at)`` becomes ``(received_at, direction)`` and ``deliveries (created_at)``
becomes ``(created_at, status, destination)``: the same prefix for whoever ranged on the time,
and the columns the dashboard groups by, so its counts over a window are index-only.
"""

from __future__ import annotations

from alembic import op

revision = "0005_console_indexes"
down_revision = "0004_destination_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_received_at_direction", "messages", ["received_at", "direction"])
    op.drop_index("ix_messages_received_at", table_name="messages")
    op.create_index(
        "ix_deliveries_created_at_status_destination", "deliveries", ["created_at", "status", "destination"]
    )
    op.drop_index("ix_deliveries_created_at", table_name="deliveries")


def downgrade() -> None:
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])
    op.drop_index("ix_deliveries_created_at_status_destination", table_name="deliveries")
    op.create_index("ix_messages_received_at", "messages", ["received_at"])
    op.drop_index("ix_messages_received_at_direction", table_name="messages")
