"""The switchboard_messages_stored hook: called after commit, free to submit messages itself."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from core import StandardMessage, Stored, hookimpl
from core.gateway import Gateway
from core.testing import wait_until


class Acknowledger:
    """Answers every new inbound message with an outbound one, as an auto-reply plugin does."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    @hookimpl
    async def switchboard_messages_stored(
        self, stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway
    ) -> None:
        for message, result in stored:
            self.seen.append((message.external_id, result.conversation_opened))
        replies = [
            StandardMessage(
                platform=m.platform,
                external_id=f"ack-{m.external_id}",
                kind="text",
                direction="out",
                recipient=m.sender,
            )
            for m, _ in stored
            if m.direction == "in"
        ]
        if replies:
            await gateway.submit(replies, destinations=[])


def inbound(external_id: str, sender: str = "+255700000001") -> StandardMessage:
    return StandardMessage(platform="hooktest", external_id=external_id, kind="text", sender=sender, text="hi")


async def test_a_hook_may_submit_messages_without_stalling_ingest(app_client: Any) -> None:
    plugin = Acknowledger()
    async with app_client(extra_plugins=[("acknowledger", plugin)]) as client:
        first = await asyncio.wait_for(client.gateway.submit([inbound("m1")]), timeout=10)
        # Ingest still answers afterwards: the hook's own submit did not wait on the ingestor.
        second = await asyncio.wait_for(client.gateway.submit([inbound("m2")]), timeout=10)
        await wait_until(
            lambda: len(plugin.seen) == 4, timeout=4, interval=0.02, message="the hook to see the four messages"
        )
    assert not first[0].duplicate and not second[0].duplicate
    assert sorted(plugin.seen) == [("ack-m1", False), ("ack-m2", False), ("m1", True), ("m2", False)]


class SlowRecorder:
    """A hook that takes its time, as one writing to the database under load does."""

    def __init__(self) -> None:
        self.recorded: list[str] = []

    @hookimpl
    async def switchboard_messages_stored(
        self, stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway
    ) -> None:
        await asyncio.sleep(0.3)
        self.recorded += [m.external_id for m, _ in stored]


async def test_submit_returns_once_the_stored_hooks_have_run(app_client: Any) -> None:
    # A webhook's 200 (it calls submit) must mean the plugins' hooks are done: the e-mail
    # plugin records a thread there, and the sender's reply may come at once.
    plugin = SlowRecorder()
    async with app_client(extra_plugins=[("slow", plugin)]) as client:
        await client.gateway.submit([inbound("s1")])
        assert plugin.recorded == ["s1"]
        # A batch of duplicates only has nothing to wait for.
        [again] = await client.gateway.submit([inbound("s1")])
    assert again.duplicate and plugin.recorded == ["s1"]


async def test_a_batch_s_deliveries_are_queued_after_its_stored_hooks(app_client: Any) -> None:
    # What a hook records (a CEEMIS case's turn) is there when the batch's deliveries run.
    plugin = SlowRecorder()
    crm = {"http": {"destinations": {"crm": {"url": "http://127.0.0.1:9/"}}}}  # never reached: see the enqueue
    async with app_client(extra_plugins=[("slow", plugin)], plugins=crm) as client:
        queue = client.gateway.queue
        enqueue = queue.enqueue
        seen_at_enqueue: list[list[str]] = []

        async def noting(items: Any, **kwargs: Any) -> Any:
            seen_at_enqueue.append(list(plugin.recorded))
            return await enqueue(items, **kwargs)

        queue.enqueue = noting
        await client.gateway.submit([inbound("d1")], destinations=["crm"])
        await wait_until(lambda: bool(seen_at_enqueue), timeout=10, interval=0.01, message="the enqueue")
    assert seen_at_enqueue[0] == ["d1"]  # later ones are the retries of the unreachable crm


class StuckHook:
    """A hook stuck behind something (a lock, a far service), then done."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.done = False

    @hookimpl
    async def switchboard_messages_stored(
        self, stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway
    ) -> None:
        await self.release.wait()
        self.done = True


async def test_a_stuck_hook_holds_the_answer_no_longer_than_the_wait_and_still_finishes(
    app_client: Any, monkeypatch: Any, caplog: Any
) -> None:
    from core.pipeline import ingest

    monkeypatch.setattr(ingest, "HOOKS_WAIT", 0.2)
    plugin = StuckHook()
    async with app_client(extra_plugins=[("stuck", plugin)]) as client:
        [stored] = await asyncio.wait_for(client.gateway.submit([inbound("k1")]), timeout=10)
        assert not stored.duplicate and not plugin.done
        assert "hooks still running after" in caplog.text
        plugin.release.set()
        await wait_until(lambda: plugin.done, timeout=10, interval=0.01, message="the hook to finish")


class Recorder:
    """Notes every hook call: each message with what the core said of it."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str | None, bool, list[str]]]] = []

    @hookimpl
    async def switchboard_messages_stored(
        self, stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway
    ) -> None:
        self.calls.append(
            [(m.external_id, m.conversation_key, s.conversation_opened, s.destinations) for m, s in stored]
        )


async def _pending(gateway: Gateway) -> list[str]:
    import sqlalchemy as sa

    from core.storage.models import message_hooks_pending, messages

    async with gateway.db.transaction() as conn:
        waiting = sa.select(message_hooks_pending.c.message_id)
        return sorted(await conn.scalars(sa.select(messages.c.external_id).where(messages.c.id.in_(waiting))))


async def test_a_message_s_hooks_are_marked_run_once_they_have(app_client: Any) -> None:
    plugin = Recorder()
    async with app_client(extra_plugins=[("recorder", plugin)]) as client:
        await client.gateway.submit([inbound("r1"), inbound("r2")])
        await wait_until(_nothing_pending(client.gateway), timeout=10, interval=0.02, message="the hooks marked run")
    assert [[e for e, *_ in call] for call in plugin.calls] == [["r1", "r2"]]


def _nothing_pending(gateway: Gateway) -> Any:
    async def check() -> bool:
        return await _pending(gateway) == []

    return check


async def submit_stopped(gateway: Gateway, monkeypatch: Any, items: list[StandardMessage], **kwargs: Any) -> Any:
    """Submit as a process killed after the commit would have: the hooks and their mark never happen."""

    async def stopped(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(gateway.ingest, "_stored_hooks", stopped)
    try:
        return await gateway.submit(items, **kwargs)
    finally:
        monkeypatch.undo()


async def test_hooks_a_stopped_process_left_pending_are_run_by_the_sweeper(app_client: Any, monkeypatch: Any) -> None:
    # A process stopped between the commit and the hooks: the platform's retry is a duplicate,
    # whose hooks do not run. The sweeper runs them, once, with what the core said of each.
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from core.builtin import _sweep_job
    from core.storage.models import message_hooks_pending

    plugin = Recorder()
    crm = {"http": {"destinations": {"crm": {"url": "http://127.0.0.1:9/"}}}}
    async with app_client(extra_plugins=[("recorder", plugin)], plugins=crm) as client:
        left = [inbound("p1"), inbound("p2", sender="+255700000002")]
        await submit_stopped(client.gateway, monkeypatch, left, destinations=["crm"])
        [again] = await client.gateway.submit([inbound("p1")])  # the platform's retry
        assert again.duplicate and plugin.calls == []
        assert await _pending(client.gateway) == ["p1", "p2"]
        await _sweep_job({"gateway": client.gateway})  # younger than the grace: left alone
        assert plugin.calls == []
        async with client.gateway.db.transaction() as conn:
            minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
            await conn.execute(sa.update(message_hooks_pending).values(received_at=minutes_ago))
        await _sweep_job({"gateway": client.gateway})
        await _sweep_job({"gateway": client.gateway})  # nothing left: run once
        assert await _pending(client.gateway) == []
    assert plugin.calls == [
        [("p1", "+255700000001", True, ["crm"]), ("p2", "+255700000002", True, ["crm"])],
    ]


async def test_two_sweepers_at_once_run_a_left_message_s_hooks_once(app_client: Any, monkeypatch: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from core.pipeline.stored_hooks import run_pending

    plugin = Recorder()
    async with app_client(extra_plugins=[("recorder", plugin)]) as client:
        await submit_stopped(
            client.gateway, monkeypatch, [inbound(f"t{i}", sender=f"+2557000001{i:02d}") for i in range(20)]
        )
        # Two sweepers two minutes from now. (Not the rows made older: the app's own sweep job,
        # on its clock, would then take them whenever its tick fell in the test.)
        later = datetime.now(UTC) + timedelta(minutes=2)
        counts = await asyncio.gather(run_pending(client.gateway, now=later), run_pending(client.gateway, now=later))
        assert await _pending(client.gateway) == []
    assert sum(counts) == 20  # each message taken by one sweeper
    assert sorted(e for call in plugin.calls for e, *_ in call) == sorted(f"t{i}" for i in range(20))


class Broken:
    """A hook that raises, as one whose database is unreachable does: the first ``fails`` calls."""

    def __init__(self, fails: int = 10**6) -> None:
        self.fails = fails
        self.calls: list[list[str]] = []

    @hookimpl
    async def switchboard_messages_stored(
        self, stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway
    ) -> None:
        self.calls.append([m.external_id for m, _ in stored])
        if len(self.calls) <= self.fails:
            raise RuntimeError("database unreachable")


async def _left(gateway: Gateway) -> list[tuple[str, list[str] | None, int, bool]]:
    """Each pending message: its external id, the plugins left to run, runs so far, whether a retry is set."""
    import sqlalchemy as sa

    from core.storage.models import message_hooks_pending, messages

    p = message_hooks_pending.c
    async with gateway.db.transaction() as conn:
        rows = await conn.execute(
            sa.select(messages.c.external_id, p.plugins, p.attempts, p.retry_at)
            .join(messages, messages.c.id == p.message_id)
            .order_by(messages.c.external_id)
        )
        return [(r.external_id, r.plugins, r.attempts, r.retry_at is not None) for r in rows]


async def test_a_hook_that_raises_does_not_stop_the_other_plugins_hooks(app_client: Any) -> None:
    # pluggy stops a call at the first implementation that raises: a broken plugin (whichever
    # is called first) would cost every other plugin its hook, an e-mail thread or an opt-out.
    first, last, recorder = Broken(), Broken(), Recorder()
    plugins = [("broken-first", first), ("recorder", recorder), ("broken-last", last)]
    async with app_client(extra_plugins=plugins) as client:
        await client.gateway.submit([inbound("x1"), inbound("x2")])
        assert [[e for e, *_ in call] for call in recorder.calls] == [["x1", "x2"]]
        assert first.calls == last.calls == [["x1", "x2"]]
        # Left pending for the two broken plugins only, to be run again later.
        assert await _left(client.gateway) == [
            ("x1", ["broken-first", "broken-last"], 1, True),
            ("x2", ["broken-first", "broken-last"], 1, True),
        ]


async def test_a_raising_hook_s_messages_stay_pending_for_every_plugin_when_they_cannot_be_kept_for_it(
    app_client: Any, monkeypatch: Any
) -> None:
    # The database went away between the hooks and the note of which plugin failed: the row
    # written with the message stays as it was, so the sweeper runs every plugin's hook again.
    from core.pipeline import stored_hooks

    async def unreachable(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(stored_hooks, "retry_later", unreachable)
    async with app_client(extra_plugins=[("broken", Broken()), ("recorder", Recorder())]) as client:
        await client.gateway.submit([inbound("u1")])
        assert await _left(client.gateway) == [("u1", None, 0, False)]


async def test_a_hook_that_raised_is_run_again_alone_until_it_succeeds(app_client: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from core.pipeline.stored_hooks import run_pending

    flaky, recorder = Broken(fails=2), Recorder()
    async with app_client(extra_plugins=[("flaky", flaky), ("recorder", recorder)]) as client:
        gateway = client.gateway
        await gateway.submit([inbound("f1")])
        assert await _left(gateway) == [("f1", ["flaky"], 1, True)]
        assert await run_pending(gateway) == 0  # not due yet
        start = datetime.now(UTC)
        assert await run_pending(gateway, now=start + timedelta(seconds=61)) == 1  # fails again
        assert await _left(gateway) == [("f1", ["flaky"], 2, True)]
        assert await run_pending(gateway, now=start + timedelta(seconds=62)) == 0  # waits longer now
        assert await run_pending(gateway, now=start + timedelta(minutes=4)) == 1  # and succeeds
        assert await _left(gateway) == []
        assert await run_pending(gateway, now=start + timedelta(hours=1)) == 0
    assert flaky.calls == [["f1"]] * 3
    assert [[e for e, *_ in call] for call in recorder.calls] == [["f1"]]  # never run twice


async def test_a_hook_that_keeps_raising_is_given_up_on_record(app_client: Any, caplog: Any) -> None:
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from core.metrics import metrics
    from core.pipeline.stored_hooks import MAX_ATTEMPTS, run_pending, waiting
    from core.storage.models import audit_log

    def counted(family: str) -> float:
        return metrics().counters[family].get(("broken-" + suffix,), 0.0)

    suffix = uuid.uuid4().hex[:6]  # metrics are the process's: a plugin name of this test's own
    broken = Broken()
    async with app_client(extra_plugins=[("broken-" + suffix, broken)]) as client:
        gateway = client.gateway
        [stored] = await gateway.submit([inbound("g1")])
        assert await waiting(gateway.db) == {"retry": 1, "left": 0}  # what /metrics shows
        moment = datetime.now(UTC)
        for _ in range(MAX_ATTEMPTS + 2):
            moment += timedelta(hours=2)
            await run_pending(gateway, now=moment)
        assert await _left(gateway) == []
        assert await waiting(gateway.db) == {"retry": 0, "left": 0}
        async with gateway.db.transaction() as conn:
            rows = (
                await conn.execute(
                    sa.select(audit_log.c.kind, audit_log.c.actor, audit_log.c.detail).where(
                        audit_log.c.action == "stored_hook_given_up"
                    )
                )
            ).all()
    assert len(broken.calls) == MAX_ATTEMPTS
    assert counted("switchboard_stored_hook_failures") == MAX_ATTEMPTS
    assert counted("switchboard_stored_hooks_given_up") == 1
    assert [(r.kind, r.actor) for r in rows] == [("system", "plugin:broken-" + suffix)]
    assert rows[0].detail["message_ids"] == [str(stored.message_id)]
    assert rows[0].detail["attempts"] == MAX_ATTEMPTS
    assert any("gave up its switchboard_messages_stored hook" in r.getMessage() for r in caplog.records)


class Gated:
    """A hook that runs until the test lets it finish."""

    def __init__(self) -> None:
        self.entered = False
        self.release = asyncio.Event()

    @hookimpl
    async def switchboard_messages_stored(
        self, stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway
    ) -> None:
        self.entered = True
        await self.release.wait()


async def test_a_sweep_leaves_a_batch_s_deliveries_to_it_while_its_hooks_run(app_client: Any) -> None:
    # A worker starting (its sweep takes every due delivery at once) while another process runs
    # a batch's hooks must not deliver the batch first: an e-mail reply would go without the
    # thread its hook records. That process queues the deliveries once the hooks have run.
    from core.pipeline.sweeper import startup_sweep

    plugin = Gated()
    crm = {"http": {"destinations": {"crm": {"url": "http://127.0.0.1:9/"}}}}
    async with app_client(extra_plugins=[("gated", plugin)], plugins=crm) as client:
        gateway = client.gateway
        submitted = asyncio.create_task(gateway.submit([inbound("w1")], destinations=["crm"]))
        await wait_until(lambda: plugin.entered, timeout=10, interval=0.01, message="the hook to start")
        try:
            swept = await startup_sweep(gateway)
        finally:
            plugin.release.set()
        assert swept == 0
        [stored] = await submitted
        assert len(stored.delivery_ids) == 1
        await wait_until(_nothing_pending(gateway), timeout=10, interval=0.02, message="the hooks marked run")


class StoppedOnce:
    """A hook whose first run stops its process (the sweeper running it is killed)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    @hookimpl
    async def switchboard_messages_stored(
        self, stored: Sequence[tuple[StandardMessage, Stored]], gateway: Gateway
    ) -> None:
        self.calls.append([m.external_id for m, _ in stored])
        if len(self.calls) == 1:  # the first sweeper's run
            raise SystemExit("killed")


async def test_a_sweeper_stopped_while_running_left_hooks_leaves_them_to_the_next(
    app_client: Any, monkeypatch: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from core.pipeline.stored_hooks import LEASE, run_pending

    plugin = StoppedOnce()
    async with app_client(extra_plugins=[("stopped", plugin)]) as client:
        gateway = client.gateway
        await submit_stopped(gateway, monkeypatch, [inbound("k1")])
        start = datetime.now(UTC)
        try:
            await run_pending(gateway, now=start + timedelta(minutes=2))
        except SystemExit:
            pass
        assert plugin.calls == [["k1"]]
        # Held by the stopped sweeper's lease, then run by the next sweep once it ran out.
        assert await run_pending(gateway, now=start + timedelta(minutes=3)) == 0
        assert await run_pending(gateway, now=start + timedelta(minutes=2) + LEASE + timedelta(seconds=1)) == 1
        assert await _left(gateway) == []
    assert plugin.calls == [["k1"], ["k1"]]
