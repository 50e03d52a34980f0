"""Data keys: a wrong or missing key is one line at start; rotation re-seals everything, resumably,
while reads and participant lookups keep working; without a key nothing changes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import StandardMessage
from core.config.settings import DatabaseSettings, PrivacySettings, Settings
from core.errors import ConfigError
from core.gateway import Gateway
from core.privacy.keys import Keyring, generate_key
from core.storage.db import make_engine
from core.storage.models import privacy_keys
from core.testing import gateway_client, make_settings, new_external_id, stored_messages, user_headers
from tests.conftest import Stack
from tests.privacy.support import KEY, OLD_KEY
from tests.test_readiness import fresh, migrate_in_thread  # noqa: F401 - the fixture


def _message(sender: str, text: str) -> StandardMessage:
    return StandardMessage(
        platform="sms", external_id=new_external_id(), kind="text", direction="in", sender=sender, text=text
    )


async def _stored_forms(stack: Stack) -> list[tuple[str | None, str | None, str | None]]:
    """Each message's sender, text and extra as stored (no key: what a dump shows)."""
    engine = make_engine(DatabaseSettings(url=stack.database_url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT CAST(sender AS TEXT), CAST(text AS TEXT), CAST(extra AS TEXT) FROM messages")
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        await engine.dispose()


def _key_ids(value: str | None) -> str | None:
    return None if value is None else value.lstrip('"')[:15]


def _cli(*args: str, config: Path, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    if key is not None:
        env["SWITCHBOARD_PRIVACY_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args, "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _config(stack: Stack, previous: list[str]) -> Path:
    path = stack.tmp / f"privacy-{uuid.uuid4().hex[:8]}.toml"
    previous_list = ", ".join(f'"{k}"' for k in previous)
    path.write_text(
        f'[server]\ndata_dir = "{stack.tmp / "data"}"\n'
        f'[database]\nurl = "{stack.database_url}"\nauto_migrate = false\n'
        f'[privacy]\nkey = "${{SWITCHBOARD_PRIVACY_KEY}}"\nprevious_keys = [{previous_list}]\n'
    )
    return path


async def test_rotation_reseals_everything_resumably_while_reads_and_lookups_work(clean_stack: Stack) -> None:
    old, new = Keyring(OLD_KEY), Keyring(KEY)
    numbers = [f"+2567{i:08d}" for i in range(5)]
    async with gateway_client(clean_stack.settings(privacy={"key": OLD_KEY}), migrate=False) as client:
        for number in numbers:
            await client.gateway.submit([_message(number, f"old text of {number}")])
    assert {_key_ids(sender) for sender, _, _ in await _stored_forms(clean_stack)} == {f"sb:p1:{old.current.id}:"}

    # The new key without the old one: refused at start, in one line naming the setting.
    with pytest.raises(ConfigError, match=rf"\[privacy\] key: .*key id {old.current.id}"):
        async with gateway_client(clean_stack.settings(privacy={"key": KEY}), migrate=False):
            pass

    rotating = clean_stack.settings(privacy={"key": KEY, "previous_keys": [OLD_KEY]})
    async with gateway_client(rotating, migrate=False) as client:
        # Mid-rotation: old rows read in clear and are found by participant; new rows use the new key.
        await client.gateway.submit([_message(numbers[0], "new text")])
        headers = await user_headers(client.gateway)
        r = await client.get("/api/messages", params={"participant": numbers[0]}, headers=headers)
        assert sorted(m["text"] for m in r.json()["items"]) == ["new text", f"old text of {numbers[0]}"]
        assert len(await stored_messages(client.gateway, sender=numbers[1])) == 1

    config = _config(clean_stack, [OLD_KEY])
    rotated = _cli("privacy", "rotate-key", "--batch", "2", config=config, key=KEY)
    assert rotated.returncode == 0, rotated.stderr
    assert "messages: " in rotated.stderr and "re-sealed" in rotated.stderr  # progress, batch by batch
    assert f"retired key ids {old.current.id}" in rotated.stdout
    assert KEY not in rotated.stdout + rotated.stderr and OLD_KEY not in rotated.stdout + rotated.stderr
    forms = await _stored_forms(clean_stack)
    assert {_key_ids(v) for row in forms for v in row[:2]} == {f"sb:p1:{new.current.id}:", f"sb:e1:{new.current.id}:"}

    # Run again: nothing left to do (rows on the current key are skipped).
    again = _cli("privacy", "rotate-key", config=config, key=KEY)
    assert again.returncode == 0, again.stderr
    assert "re-encrypted 0 rows" in again.stdout

    # The old key is no longer needed.
    async with gateway_client(clean_stack.settings(privacy={"key": KEY}), migrate=False) as client:
        headers = await user_headers(client.gateway)
        r = await client.get("/api/messages", params={"participant": numbers[0]}, headers=headers)
        assert len(r.json()["items"]) == 2
        assert {m["text"] for m in (await client.get("/api/messages", headers=headers)).json()["items"]} >= {
            f"old text of {n}" for n in numbers
        }


async def test_data_stored_in_clear_is_sealed_by_a_rotation_once_a_key_is_set(clean_stack: Stack) -> None:
    async with gateway_client(clean_stack.settings(), migrate=False) as client:
        await client.gateway.submit([_message("+256700000001", "written in clear")])
    assert (await _stored_forms(clean_stack))[0][:2] == ("+256700000001", "written in clear")
    async with gateway_client(clean_stack.settings(privacy={"key": KEY}), migrate=False) as client:
        # Read as it is until the rotation; found by the clear form too.
        [row] = await stored_messages(client.gateway)
        assert row.text == "written in clear"
    rotated = _cli("privacy", "rotate-key", config=_config(clean_stack, []), key=KEY)
    assert rotated.returncode == 0, rotated.stderr
    [(sender, text, _)] = await _stored_forms(clean_stack)
    assert sender is not None and sender.startswith("sb:p1:") and text is not None and text.startswith("sb:e1:")


async def test_sealed_data_without_its_key_is_refused_at_start_in_one_line(clean_stack: Stack) -> None:
    async with gateway_client(clean_stack.settings(privacy={"key": KEY}), migrate=False) as client:
        await client.gateway.submit([_message("+256700000002", "sealed")])
    with pytest.raises(ConfigError, match=r"\[privacy\] key: not set, but personal data is sealed"):
        async with gateway_client(clean_stack.settings(), migrate=False):
            pass
    # The command line says it in one line, and serve refuses before it binds: a wrong key, no key.
    config = _config(clean_stack, [])
    wrong = _cli("serve", "--port", "1", config=config, key=generate_key())
    unkeyed = _config(clean_stack, [])
    unkeyed.write_text(unkeyed.read_text().split("[privacy]")[0])
    missing = _cli("serve", "--port", "1", config=unkeyed, key=None)
    for result, says in ((wrong, "personal data is sealed with key id"), (missing, "not set, but personal data")):
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"switchboard: [privacy] key: {says}"), result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_malformed_key_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^\[privacy\] key: not a data key"):
        Gateway(make_settings(tmp_path, privacy={"key": "too-short"}))
    with pytest.raises(ConfigError, match=r"^\[privacy\] previous_keys\[1\]: not a data key"):
        Gateway(make_settings(tmp_path, privacy={"key": KEY, "previous_keys": [OLD_KEY, "x" * 10]}))


def test_config_check_says_whether_personal_data_is_encrypted_and_masks_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "db.sqlite"}"\n')
    clear = _cli("config", "check", config=config, key=None)
    assert clear.returncode == 0, clear.stderr
    assert "personal data: stored in clear" in clear.stderr
    # Masked whether it comes from the environment or, against advice, from the file itself.
    config.write_text(
        config.read_text() + f'[privacy]\nkey = "${{SWITCHBOARD_PRIVACY_KEY}}"\nprevious_keys = ["{OLD_KEY}"]\n'
    )
    sealed = _cli("config", "check", config=config, key=KEY)
    assert sealed.returncode == 0, sealed.stderr
    assert OLD_KEY not in sealed.stdout + sealed.stderr
    assert f"previous key ids {Keyring(OLD_KEY).current.id} still read" in sealed.stderr
    assert (
        f"personal data: encrypted at rest (AES-GCM, identifiers AES-SIV; key id {Keyring(KEY).current.id}"
        in sealed.stderr
    )
    assert KEY not in sealed.stdout + sealed.stderr
    bad = _cli("config", "check", config=config, key="not-a-key")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "switchboard: [privacy] key: not a data key (expected 32 bytes in base64; "
        "make one with `switchboard privacy generate-key`)"
    )


def test_generate_key_prints_a_fresh_usable_key(tmp_path: Path) -> None:
    config = tmp_path / "none.toml"
    config.write_text("")
    first, second = (_cli("privacy", "generate-key", config=config, key=None) for _ in range(2))
    assert first.returncode == 0 and second.returncode == 0
    assert first.stdout != second.stdout
    Keyring(first.stdout.strip())  # accepted as [privacy] key


async def test_two_gateways_with_different_keys_in_one_process(tmp_path: Path) -> None:
    one, two = generate_key(), generate_key()
    first = make_settings(tmp_path / "one", privacy={"key": one})
    second = make_settings(tmp_path / "two", privacy={"key": two})
    async with gateway_client(first) as a, gateway_client(second) as b:
        await a.gateway.submit([_message("+256700000010", "to the first")])
        await b.gateway.submit([_message("+256700000010", "to the second")])
        assert [m.text for m in await stored_messages(a.gateway, sender="+256700000010")] == ["to the first"]
        assert [m.text for m in await stored_messages(b.gateway, sender="+256700000010")] == ["to the second"]


async def test_a_database_migrated_after_start_has_its_key_checked_and_recorded_before_serving(
    fresh: Settings,  # noqa: F811 - the fixture imported from tests.test_readiness
) -> None:
    """Start could not check the keys (no tables yet): the first request after the migration does,
    so the key that will seal the data is on record before anything is sealed with it."""
    keyed = fresh.model_copy(update={"privacy": PrivacySettings(key=KEY)})
    async with gateway_client(keyed, migrate=False) as client:
        assert (await client.get("/api/messages")).status_code == 503
        await migrate_in_thread(keyed)
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/api/messages")).status_code == 401  # served again: asks who is calling
        async with client.gateway.db.transaction() as conn:
            recorded = list((await conn.execute(sa.select(privacy_keys.c.key_id))).scalars())
    assert recorded == [Keyring(KEY).current.id]


async def test_a_database_unreachable_at_start_does_not_stop_the_gateway(tmp_path: Path) -> None:
    """The key check waits for the database like every other reader: /readyz says it is down."""
    settings = make_settings(
        tmp_path, database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", privacy={"key": KEY}
    )
    async with gateway_client(settings, migrate=False) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503 and r.json()["components"]["database"]["status"] == "down"
