"""delivery attempts: the request sent and the response received

Revision ID: 0012_attempt_exchange
Revises: 0011_roles
Create Date: 2026-12-06

``delivery_attempts.request`` and ``delivery_attempts.response``: each attempt's exchanges with
the far side (method, URL, headers, body; status, headers, body), redacted and cut
(core.pipeline.exchanges). NULL for attempts made before, and for destinations that recorded none.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012_attempt_exchange"
down_revision = "0011_roles"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(sa.Column("request", _json(), nullable=True))
        batch.add_column(sa.Column("response", _json(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("response")
        batch.drop_column("request")
