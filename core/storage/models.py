"""The core tables (SQLAlchemy Core: the hot paths insert and update without ORM overhead)."""

from __future__ import annotations

import sqlalchemy as sa

from core.privacy.columns import ParticipantRef, SealedJSON, SealedText
from core.storage.db import JSONType, UTCDateTime
from core.storage.ids import uuid7

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Id = sa.Uuid(as_uuid=True)


def _id() -> sa.Column[object]:
    return sa.Column("id", Id, primary_key=True, default=uuid7)


users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("username", sa.String(150), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    # active | pending (self-signup awaiting approval) | rejected | inactive
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    sa.Column("full_name", sa.String(255)),
    sa.Column("email", sa.String(255)),
    sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UTCDateTime),
    sa.Column("last_login_at", UTCDateTime),
    sa.Column("password_changed_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "role", "id"),
    sa.Index(None, "status", "id"),
)

# Roles an admin defines at run time (the console, ``/api/roles``), beside the built-in ones and
# ``[auth.roles]``: a name ``users.role`` may hold, made of permissions (``core.auth.roles``).
roles = sa.Table(
    "roles",
    metadata,
    sa.Column("name", sa.String(20), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("permissions", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    _id(),
    sa.Column("user_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    # All tokens descended from one login share a family; reuse of a rotated one revokes it.
    sa.Column("family_id", Id, nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("rotated_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("client", sa.String(64)),
    sa.Column("user_agent", sa.String(255)),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _id(),
    sa.Column("name", sa.String(150), nullable=False),
    # The visible part of the key ("sb_" + 8 characters), to identify a leaked key.
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("scopes", JSONType, nullable=False),
    sa.Column("platform", sa.String(64)),
    sa.Column("created_by", Id, sa.ForeignKey("users.id", ondelete="SET NULL")),
    # The user a key acts for (``core.issue_user_key``): refused once they are not active, and
    # held to their current role. ``None`` for a system's key.
    sa.Column("owner_id", Id, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("usage_count", sa.BigInteger, nullable=False, server_default="0"),
)

conversations = sa.Table(
    "conversations",
    metadata,
    _id(),
    sa.Column("platform", sa.String(64), nullable=False),
    # Personal data (sender, recipient, participant, content) is sealed with the data key when
    # one is configured (core.privacy.columns, docs/privacy.md).
    sa.Column("participant", ParticipantRef(), nullable=False),
    # open | closed. At most one open conversation per participant (partial unique index).
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("last_message_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime),
    sa.Column("message_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("state", SealedJSON, nullable=False),
    sa.Index(
        "uq_conversations_open_participant",
        "platform",
        "participant",
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    ),
    sa.Index(None, "platform", "participant", "id"),
    sa.Index(None, "status", "id"),
)

messages = sa.Table(
    "messages",
    metadata,
    _id(),
    sa.Column("platform", sa.String(64), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=False),
    sa.Column("direction", sa.String(3), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("sender", ParticipantRef()),
    sa.Column("sender_name", SealedText),
    sa.Column("recipient", ParticipantRef()),
    sa.Column("text", SealedText),
    sa.Column("media", SealedJSON, nullable=False),
    sa.Column("timestamp", UTCDateTime, nullable=False),
    sa.Column("conversation_id", Id, sa.ForeignKey("conversations.id", ondelete="SET NULL")),
    sa.Column("raw", SealedJSON),
    sa.Column("extra", SealedJSON, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("platform", "external_id"),
    sa.Index(None, "platform", "id"),
    sa.Index(None, "kind", "id"),
    # A kind and a direction together read one range, not every message of the kind (0015).
    sa.Index(None, "kind", "direction", "id"),
    sa.Index(None, "sender", "id"),
    # A participant is the sender or the recipient: the two index scans are merged (0006_message_recipient).
    sa.Index(None, "recipient", "id"),
    sa.Index(None, "conversation_id", "id"),
    # The dashboard counts a window by direction from this index alone (0005_console_indexes).
    sa.Index(None, "received_at", "direction"),
)

# New messages whose plugins' switchboard_messages_stored hooks have not run yet: a row is
# written with the message and deleted once they have; the sweeper runs the hooks of rows a
# stopped process left (core.pipeline.stored_hooks, 0016). A table of its own, not a flag on
# messages: clearing a flag would rewrite the message row in all its indexes.
message_hooks_pending = sa.Table(
    "message_hooks_pending",
    metadata,
    sa.Column("message_id", Id, sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # After a hook raised (0017): the plugins whose hooks are left to run (null: every plugin's),
    # how many times they have been run, and when to run them again.
    sa.Column("plugins", JSONType),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retry_at", UTCDateTime),
    sa.Index(None, "received_at"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    _id(),
    sa.Column("message_id", Id, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("destination", sa.String(64), nullable=False),
    sa.Column("platform", sa.String(64), nullable=False),
    # pending | queued | running | retrying | delivered | dead | cancelled
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempt_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime),
    # While running: when the worker's claim expires (a killed worker's delivery is swept after it).
    sa.Column("lease_until", UTCDateTime),
    # Errors may quote a response body, and details hold what was sent and answered: sealed.
    sa.Column("last_error", SealedText),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("remote_ref", sa.String(255)),
    sa.Column("detail", SealedJSON),
    sa.Column("options", JSONType, nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
    # A requeue starts a fresh budget of attempts: how many times it was requeued, its
    # attempt_count and the time when it last was (0008_delivery_requeues).
    sa.Column("requeues", sa.Integer, nullable=False, server_default="0"),
    sa.Column("budget_start", sa.Integer, nullable=False, server_default="0"),
    sa.Column("requeued_at", UTCDateTime),
    sa.Index(None, "status", "next_attempt_at"),
    sa.Index(None, "status", "id"),
    sa.Index(None, "destination", "id"),
    sa.Index(None, "platform", "id"),
    # The dashboard counts a window by status and destination from this index alone (0005_console_indexes).
    sa.Index(None, "created_at", "status", "destination"),
)

# One row per destination that has had an attempt: its circuit breaker (core.pipeline.breaker).
destination_state = sa.Table(
    "destination_state",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    # closed | open | half_open | paused (by hand)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("failure_streak", sa.Integer, nullable=False, server_default="0"),
    # While open: the length of this pause (doubled by each failed probe) and when to probe.
    sa.Column("cooldown", sa.Float),
    sa.Column("probe_at", UTCDateTime),
    # While half-open: the probe's lease (a probe whose process died is retried after it).
    sa.Column("probe_until", UTCDateTime),
    sa.Column("paused_since", UTCDateTime),
    sa.Column("paused_by", sa.String(255)),
    sa.Column("last_success_at", UTCDateTime),
    sa.Column("last_failure_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", Id, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    # delivered | retry | dead
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", SealedText),
    sa.Column("response_excerpt", SealedText),
    sa.Column("remote_ref", sa.String(255)),
    sa.Column("detail", SealedJSON),
    sa.Column("worker", sa.String(128)),
    # What the attempt sent and what came back, one entry per exchange, redacted and cut
    # (core.pipeline.exchanges): [{method, url, headers, body}] and [{status, headers, body} | {error}].
    sa.Column("request", SealedJSON),
    sa.Column("response", SealedJSON),
    sa.Index(None, "delivery_id", "number"),
    # The dashboard's hourly rollup counts an hour's outcomes from this index (0007_dashboard_rollup).
    sa.Index(None, "started_at"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    # request | webhook | delivery | auth | admin | system
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64)),
    sa.Column("request_id", sa.String(64)),
    sa.Column("actor", sa.String(255)),
    # user | api_key | adapter | system | anonymous
    sa.Column("actor_type", sa.String(16)),
    sa.Column("method", sa.String(10)),
    sa.Column("path", sa.String(512)),
    sa.Column("status", sa.Integer),
    sa.Column("duration_ms", sa.Float),
    sa.Column("client", sa.String(64)),
    sa.Column("error", sa.Text),
    # A captured payload ([audit] capture_payloads) is a person's content: sealed.
    sa.Column("detail", SealedJSON),
    sa.Index(None, "at"),
    sa.Index(None, "kind", "id"),
    sa.Index(None, "actor", "id"),
    sa.Index(None, "path", "id"),
    sa.Index(None, "status", "id"),
    sa.Index(None, "request_id"),
)

# One row per run of a cron job (core's and plugins'): what ran, when, how long, how it ended.
job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False),
    # schedule | manual
    sa.Column("trigger", sa.String(16), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    # succeeded | failed | skipped (the tick could not run: ``error`` says why)
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    # What the job returned when it returned a count (rows purged, deliveries requeued, …).
    sa.Column("rows", sa.BigInteger),
    sa.Column("worker", sa.String(128)),
    # The UTC wall-clock tick a scheduled run was for (NULL for a run on request).
    sa.Column("tick", UTCDateTime),
    sa.Index(None, "name", "id"),
    sa.Index(None, "started_at"),
)

# The dashboard's hourly rollup (core.operations.rollup): an hour appears here once it is rolled
# up, in the same transaction as its counts; the dashboard counts live every hour not here.
rollup_hours = sa.Table(
    "rollup_hours",
    metadata,
    sa.Column("hour", UTCDateTime, primary_key=True),
    sa.Column("rolled_at", UTCDateTime, nullable=False),
)

# The counts of a rolled-up hour, fixed once written: ``metric`` is ``in`` or ``out`` (messages
# received, ``name`` their platform), ``created`` (deliveries created, ``name`` their destination),
# or an attempt outcome ``delivered``, ``retry`` or ``dead`` (attempts started in the hour, ``name``
# the destination).
rollup_counts = sa.Table(
    "rollup_counts",
    metadata,
    sa.Column("hour", UTCDateTime, nullable=False),
    sa.Column("metric", sa.String(16), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("hour", "metric", "name"),
)

# The data keys that have sealed personal data (core.privacy.registry): at start, a key still in
# use that is not configured is an error; ``privacy rotate-key`` retires the ones it replaced.
privacy_keys = sa.Table(
    "privacy_keys",
    metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("first_used_at", UTCDateTime, nullable=False),
    sa.Column("retired_at", UTCDateTime),
)

# Jobs an admin switched off (or on again); a job without a row is enabled. Read before every run.
job_states = sa.Table(
    "job_states",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(255)),
)

# Erasures and exports of one person's data (core.operations.erasure, core.operations.subject_export).
# The participant is kept only while an export waits for the worker, and cleared when it ends:
# an erasure's row says who asked and what was erased, never whom it was about.
privacy_requests = sa.Table(
    "privacy_requests",
    metadata,
    _id(),
    # erasure | export
    sa.Column("kind", sa.String(16), nullable=False),
    # pending | running | done | failed
    sa.Column("status", sa.String(16), nullable=False),
    # Sealed: the person an export is for, kept only until the export ends.
    sa.Column("participant", SealedText),
    sa.Column("requested_by", sa.String(255)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime),
    # What was erased or exported, rows per table.
    sa.Column("counts", JSONType),
    # An export's file (under the exports directory) and its size, until it expires.
    sa.Column("file", sa.String(255)),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("error", sa.Text),
    sa.Index(None, "kind", "id"),
)

# How far the retention job has come, per platform: every message of the platform with an id up
# to ``erased_through`` has had its content and identifiers erased (core.operations.retention).
privacy_retention = sa.Table(
    "privacy_retention",
    metadata,
    sa.Column("platform", sa.String(64), primary_key=True),
    sa.Column("erased_through", Id, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
