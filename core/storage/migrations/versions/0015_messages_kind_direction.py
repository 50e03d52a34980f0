"""messages (kind, direction, id): a kind and direction filter reads one index range

Revision ID: 0015_messages_kind_direction
Revises: 0014_privacy_sealed
Create Date: 2026-12-06

The console's and the API's message list filtered by kind and direction (``?kind=image&direction=in``)
walked every message of the kind in ``(kind, id)`` to find those of the direction: 68-71 ms p50,
114 ms p95 at 1M messages when none matched (docs/performance.md). ``(kind, id)`` stays: a filter
by kind alone reads it in id order.
"""

from __future__ import annotations

from alembic import op

revision = "0015_messages_kind_direction"
down_revision = "0014_privacy_sealed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_kind_direction_id", "messages", ["kind", "direction", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_kind_direction_id", table_name="messages")
