"""``clean_stack`` empties every table before a test, a table created during the session included."""

from __future__ import annotations

import sqlalchemy as sa

from core.auth.users import create_user
from core.config.settings import DatabaseSettings
from core.storage.db import make_engine
from core.storage.models import users
from core.testing import gateway_client
from tests.conftest import Stack, _truncate

NOTES = sa.Table(
    "late_plugin_notes",
    sa.MetaData(),
    sa.Column("user_id", sa.Uuid(as_uuid=True), sa.ForeignKey(users.c.id)),
    sa.Column("note", sa.Text()),
)


async def _count(st: Stack, table: str) -> int:
    engine = make_engine(DatabaseSettings(url=st.database_url))
    try:
        async with engine.begin() as conn:
            return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())
    finally:
        await engine.dispose()


async def test_every_table_is_emptied_one_created_since_the_last_clean_too(clean_stack: Stack) -> None:
    async with gateway_client(clean_stack.settings(), migrate=False) as client:
        await create_user(client.gateway, "ann", "correct horse battery staple 42", "viewer")
    engine = make_engine(DatabaseSettings(url=clean_stack.database_url))
    try:
        async with engine.begin() as conn:
            # A plugin's table that came after the schema was first read, with a row pointing at a user.
            await conn.run_sync(NOTES.create)
            user_id = (await conn.execute(sa.select(users.c.id))).scalar_one()
            await conn.execute(NOTES.insert().values(user_id=user_id, note="x"))
        await _truncate(clean_stack)
        assert await _count(clean_stack, "users") == 0
        assert await _count(clean_stack, "late_plugin_notes") == 0
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(NOTES.drop)
        await engine.dispose()
