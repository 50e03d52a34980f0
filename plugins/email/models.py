"""The plugin's tables: threads, the Message-IDs of each, and webhook tokens already seen."""

from __future__ import annotations

import sqlalchemy as sa

from core import NAMING, ParticipantRef, SealedText, UTCDateTime

metadata = sa.MetaData(naming_convention=NAMING)

# One row per thread, keyed by the conversation key its messages carry (the address of the
# one who started it). reply_to: where replies go (the last inbound sender); last_message_id
# and refs: what a reply's In-Reply-To and References name.
threads = sa.Table(
    "email_threads",
    metadata,
    # The thread's key (an address), the correspondent and the subject are personal data:
    # sealed with a [privacy] key.
    sa.Column("key", ParticipantRef(), primary_key=True),
    sa.Column("reply_to", ParticipantRef(), nullable=False),
    sa.Column("subject", SealedText, nullable=False),
    sa.Column("last_message_id", sa.String(255), nullable=False),
    sa.Column("refs", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Every Message-ID seen or sent, and its thread: how In-Reply-To/References find a thread.
message_ids = sa.Table(
    "email_message_ids",
    metadata,
    sa.Column("message_id", sa.String(255), primary_key=True),
    sa.Column("thread_key", ParticipantRef(), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Webhook tokens of the last max_age seconds: a token seen twice is a replay.
seen_tokens = sa.Table(
    "email_seen_tokens",
    metadata,
    sa.Column("token", sa.String(255), primary_key=True),
    sa.Column("seen_at", UTCDateTime, nullable=False, index=True),
)
