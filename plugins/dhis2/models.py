"""The plugin's tables: data-value mappings and org-unit mappings (SQLAlchemy Core)."""

from __future__ import annotations

import sqlalchemy as sa

from core import NAMING, SealedJSON, UTCDateTime

metadata = sa.MetaData(naming_convention=NAMING)  # the core's, so constraint names read alike

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# A source code (what a form or a device calls a value) → where it goes in DHIS2. The
# columns follow the dhis2gw mapping file, so its users' files import unchanged.
data_value_mappings = sa.Table(
    "dhis2_data_value_mappings",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(255), nullable=False),
    sa.Column("dataset", sa.String(11), nullable=False),
    sa.Column("data_element", sa.String(11), nullable=False),
    sa.Column("category_option_combo", sa.String(11)),
    sa.Column("attribute_option_combo", sa.String(11)),
    # Informational, as in dhis2gw: the category option and category combo of the combo.
    sa.Column("category_option", sa.String(11)),
    sa.Column("category_combo", sa.String(11)),
    sa.Column("name", sa.String(255)),
    sa.Column("description", sa.Text),
    sa.Column("instance_name", sa.String(100)),
    sa.Column("source_name", sa.String(100)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("code", "dataset"),
    sa.Index(None, "dataset", "id"),
    sa.Index(None, "data_element", "id"),
    sa.Index(None, "instance_name", "id"),
    sa.Index(None, "source_name", "id"),
)

# A source code of a place (a facility code, a device's site) → a DHIS2 org unit uid.
# ``instance`` is "" for a mapping that holds for every instance.
org_unit_mappings = sa.Table(
    "dhis2_org_unit_mappings",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("code", sa.String(255), nullable=False),
    sa.Column("instance", sa.String(100), nullable=False, server_default=""),
    sa.Column("org_unit", sa.String(11), nullable=False),
    sa.Column("name", sa.String(255)),
    sa.Column("source_name", sa.String(100)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("code", "instance"),
    sa.Index(None, "org_unit", "id"),
    sa.Index(None, "instance", "id"),
)

# dhis2gw compatibility (compat/): dhis2gw's integer submission ids over Switchboard's
# message and delivery. No delivery when nothing in the request had a mapping (dhis2gw then
# logs a failed submission); ``errors`` says why.
dhis2gw_submissions = sa.Table(
    "dhis2gw_submissions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.Uuid),
    sa.Column("delivery_id", sa.Uuid, unique=True),
    sa.Column("request", SealedJSON, nullable=False),  # may carry a person's data: sealed with a [privacy] key
    sa.Column("errors", sa.Text),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Index(None, "submitted_at"),
)
