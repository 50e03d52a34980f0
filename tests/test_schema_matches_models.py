"""The migrated database has the tables, columns and indexes the models declare, and no others.

A model changed without its migration (or the reverse) runs in the tests, which create nothing
from the models, only on the side that was changed: this compares the two on both stacks.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.config.settings import DatabaseSettings
from core.plugins import PluginRegistry
from core.storage.db import make_engine
from core.storage.models import metadata as core_metadata
from tests.conftest import Stack

# What the comparison reports about structure (types and defaults are compared by the tests
# that write and read them: a TypeDecorator is not a database type).
STRUCTURE = {"add_table", "remove_table", "add_column", "remove_column", "add_index", "remove_index"}


def _describe(diff: Any) -> str:
    kind, item = diff[0], diff[1:]
    names = [getattr(x, "name", x) for x in item if not isinstance(x, sa.MetaData)]
    return f"{kind} {names}"


async def test_the_migrated_schema_is_what_the_models_declare(clean_stack: Stack) -> None:
    settings = clean_stack.settings(installed="all")
    metadatas = [core_metadata, *PluginRegistry(settings).gather("switchboard_models")]
    engine = make_engine(DatabaseSettings(url=clean_stack.database_url))
    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": False}), metadatas)
            )
    finally:
        await engine.dispose()
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    structural = sorted(_describe(d) for d in flat if d[0] in STRUCTURE and "alembic_version" not in str(d))
    assert structural == []
