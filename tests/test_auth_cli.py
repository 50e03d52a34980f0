"""``switchboard users …``, run as an operator runs it: a process, a password on standard input."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.cli import main
from tests.support.auth import NEW_PASSWORD, PASSWORD, audit_rows, bearer, login


def _environment(stack, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "SWITCHBOARD_DATABASE__URL": stack.database_url,
        "SWITCHBOARD_SERVER__DATA_DIR": str(tmp_path / "data"),
        "SWITCHBOARD_AUTH__SECRET_KEY": "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "SWITCHBOARD_AUTH__PASSWORD_SCRYPT_N": "16384",
        "SWITCHBOARD_QUEUE__BACKEND": "local",
    }


def _process(stack, tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """``switchboard users …`` as a separate process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")} | _environment(stack, tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "core.cli", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )


async def process(stack, tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(_process, stack, tmp_path, *args, stdin=stdin)


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``switchboard users …`` in this process (a process start costs seconds): same parser, same exit codes."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("SWITCHBOARD_")]:
        monkeypatch.delenv(key)

    def invoke(args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(["users", *args])
            except SystemExit as exit:  # argparse's refusals
                code = int(exit.code or 0)
        return subprocess.CompletedProcess(["switchboard", "users", *args], code, out.getvalue(), err.getvalue())

    async def run_users(stack, path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
        for key, value in _environment(stack, path).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        return await asyncio.to_thread(invoke, args)

    return run_users


async def _create(run, stack, tmp_path: Path, username: str, role: str = "admin") -> None:  # type: ignore[no-untyped-def]
    done = await run(
        stack, tmp_path, "create", "--username", username, "--role", role, "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert done.returncode == 0, done.stderr


async def _listed(run, stack, tmp_path: Path, *args: str) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    done = await run(stack, tmp_path, "list", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


async def test_users_create_reads_the_password_from_stdin_and_the_user_can_log_in(
    clean_stack, client, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    done = await process(
        clean_stack,
        tmp_path,
        "create",
        "--username",
        "Root",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr
    assert "created admin root" in done.stdout
    tokens = await login(client, "root")
    assert tokens["must_change_password"] is False
    assert (await client.get("/api/users", headers=bearer(tokens))).status_code == 200


async def test_users_create_without_a_terminal_or_stdin_flag_refuses_to_guess(run, clean_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = await run(clean_stack, tmp_path, "create", "--username", "root", "--role", "admin", stdin="")
    assert done.returncode == 1
    assert "use --password-stdin" in done.stderr


async def test_a_password_cannot_be_given_on_the_command_line(clean_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = await process(
        clean_stack, tmp_path, "create", "--username", "root", "--role", "admin", "--password", PASSWORD
    )
    assert done.returncode == 2
    assert PASSWORD not in done.stdout


async def test_users_create_refuses_a_weak_password_with_the_rule(run, clean_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = await run(
        clean_stack, tmp_path, "create", "--username", "root", "--role", "admin", "--password-stdin", stdin="letmein\n"
    )
    assert done.returncode == 1
    assert "at least 10 characters" in done.stderr and "Traceback" not in done.stderr


async def test_users_create_refuses_a_taken_name(run, clean_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await _create(run, clean_stack, tmp_path, "root")
    done = await run(
        clean_stack, tmp_path, "create", "--username", "ROOT", "--role", "viewer", "--password-stdin", stdin=PASSWORD
    )
    assert done.returncode == 1 and "taken" in done.stderr


async def test_users_list_filters_by_role(run, clean_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await _create(run, clean_stack, tmp_path, "root")
    await _create(run, clean_stack, tmp_path, "watcher", role="viewer")
    assert [u["username"] for u in await _listed(run, clean_stack, tmp_path)] == ["root", "watcher"]
    assert [u["username"] for u in await _listed(run, clean_stack, tmp_path, "--role", "viewer")] == ["watcher"]
    table = await run(clean_stack, tmp_path, "list")
    assert "watcher" in table.stdout and "viewer" in table.stdout and "never" in table.stdout


async def test_users_set_role_changes_the_role_and_is_audited(run, clean_stack, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await _create(run, clean_stack, tmp_path, "root")
    await _create(run, clean_stack, tmp_path, "watcher", role="viewer")
    done = await run(clean_stack, tmp_path, "set-role", "watcher", "operator")
    assert done.returncode == 0 and "watcher is operator" in done.stdout
    assert [u["role"] for u in await _listed(run, clean_stack, tmp_path, "--role", "operator")] == ["operator"]
    [change] = [r for r in await audit_rows(client.gateway) if r.action == "role_changed"]
    assert change.actor.startswith("cli") and change.detail == {
        "user": "watcher",
        "previous": "viewer",
        "role": "operator",
    }


async def test_users_deactivate_stops_the_users_tokens(run, clean_stack, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await _create(run, clean_stack, tmp_path, "root")
    await _create(run, clean_stack, tmp_path, "watcher", role="viewer")
    tokens = await login(client, "watcher")
    done = await run(clean_stack, tmp_path, "deactivate", "watcher")
    assert done.returncode == 0 and "watcher is inactive" in done.stdout
    assert (await client.get("/api/auth/me", headers=bearer(tokens))).status_code == 401


async def test_users_deactivate_refuses_the_last_admin(run, clean_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await _create(run, clean_stack, tmp_path, "root")
    done = await run(clean_stack, tmp_path, "deactivate", "root")
    assert done.returncode == 1 and "last active admin" in done.stderr


async def test_users_set_role_takes_a_role_defined_at_run_time_and_names_the_roles_for_an_unknown_one(run, clean_stack, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from core.auth.stored_roles import define_role

    await define_role(client.gateway, "auditor", ["audit.read"])
    await _create(run, clean_stack, tmp_path, "watcher", role="viewer")
    done = await run(clean_stack, tmp_path, "set-role", "watcher", "auditor")
    assert done.returncode == 0 and "watcher is auditor" in done.stdout
    refused = await run(clean_stack, tmp_path, "set-role", "watcher", "root")
    assert refused.returncode == 1 and "role one of viewer, operator, admin, auditor" in refused.stderr


async def test_commands_on_an_unknown_user_fail_cleanly(run, clean_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for args in (("set-role", "ghost", "admin"), ("deactivate", "ghost"), ("unlock", "ghost")):
        done = await run(clean_stack, tmp_path, *args)
        assert done.returncode == 1 and "no user named 'ghost'" in done.stderr


async def test_users_set_password_replaces_the_password(run, clean_stack, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await _create(run, clean_stack, tmp_path, "root")
    done = await run(clean_stack, tmp_path, "set-password", "root", "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert await login(client, "root", NEW_PASSWORD)


async def test_users_create_on_a_fresh_sqlite_file_migrates_it_first(run, tmp_path: Path) -> None:
    from tests.conftest import Stack

    fresh = Stack("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", {"backend": "local"}, tmp_path)
    await _create(run, fresh, tmp_path, "first-admin")
    assert [u["username"] for u in await _listed(run, fresh, tmp_path)] == ["first-admin"]


class Terminal:
    """``switchboard users …`` in a process whose standard input and output are a pseudo-terminal."""

    def __init__(self, stack, tmp_path: Path, *args: str) -> None:  # type: ignore[no-untyped-def]
        self.master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")} | _environment(stack, tmp_path)
        # A new session: no controlling terminal, so getpass reads the pseudo-terminal on stdin.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "users", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=tmp_path,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.seen = ""

    def expect(self, text: str) -> str:
        """Read until ``text`` appears (or the process ends); returns what was read up to it."""
        while text not in self.seen:
            ready, _, _ = select.select([self.master], [], [], 60)
            assert ready, f"no {text!r} within a minute; saw {self.seen!r}"
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the process closed the terminal
                chunk = b""
            assert chunk, f"the process ended before {text!r}; saw {self.seen!r}"
            self.seen += chunk.decode(errors="replace")
        before, _, self.seen = self.seen.partition(text)
        return before

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self) -> int:
        try:
            while chunk := os.read(self.master, 4096):
                self.seen += chunk.decode(errors="replace")
        except OSError:
            pass
        os.close(self.master)
        return self.process.wait(timeout=60)


def _prompted_create(stack, tmp_path: Path, answers: list[str]) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    terminal = Terminal(stack, tmp_path, "create", "--username", "root", "--role", "admin")
    said = ""
    for answer in answers:
        said += terminal.expect("Password")
        terminal.type(answer)
    code = terminal.finish()
    return code, said + terminal.seen


async def test_users_create_asks_again_at_the_prompt_for_a_refused_password(clean_stack, client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, said = await asyncio.to_thread(_prompted_create, clean_stack, tmp_path, ["letmein", PASSWORD, PASSWORD])
    assert code == 0, said
    assert "at least 10 characters" in said and "try again" in said and "created admin root" in said
    assert (await login(client, "root"))["must_change_password"] is False


async def test_users_create_gives_up_after_three_refused_passwords(clean_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, said = await asyncio.to_thread(_prompted_create, clean_stack, tmp_path, ["letmein", "aaaaaaaaaaaa", "short"])
    assert code == 1, said
    assert "3 attempts" in said and "created" not in said and "Traceback" not in said
