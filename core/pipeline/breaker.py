"""Each destination's circuit breaker: a failing destination is paused, probed, and resumed.

    closed ──N consecutive failed attempts──▶ open ──cool-down over, one probe claimed──▶ half_open
       ▲                                       ▲                                            │
       └──────────── probe succeeds ───────────┼────────────────────────────────────────────┤
                                               └──── probe fails: cool-down doubled ────────┘
    any state ──pause (by hand)──▶ paused ──resume (by hand)──▶ closed

The state lives in the ``destination_state`` table, so every serve and worker process obeys the
same breaker; transitions are conditional UPDATEs (one process wins each, and one probe runs at
a time across processes) written with their audit row. The delivery engine asks ``gate`` before
it claims a delivery: a destination that is not closed has its deliveries left unclaimed
(waiting, their attempts not counted), and the sweeper leaves them alone too, except for the one
delivery it hands out as the probe once the cool-down is over.

The hot path reads a per-process snapshot of the table, refreshed at most every
``CACHE_TTL`` seconds, and writes only when something changes (a failure, the end of a failure
streak, a state transition) or, on success, at most every ``SUCCESS_EVERY`` seconds to keep
``last_success_at`` current.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.storage.models import audit_log, destination_state

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from core.gateway import Gateway

log = logging.getLogger("switchboard.breaker")

# How stale a process's view of the breakers may be (seconds).
CACHE_TTL = 1.0
# How often a healthy destination's last_success_at is written (seconds, per process).
SUCCESS_EVERY = 5.0


class State(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    PAUSED = "paused"


# States in which a destination's deliveries are not claimed (but for the probe).
HELD: tuple[State, ...] = (State.OPEN, State.HALF_OPEN, State.PAUSED)


class Gate(enum.Enum):
    GO = "go"  # closed: attempt as usual
    PROBE = "probe"  # this attempt is the destination's probe
    WAIT = "wait"  # paused: leave the delivery waiting, unclaimed


class Verdict(enum.Enum):
    SUCCESS = "success"  # the destination took it
    FAILURE = "failure"  # the destination is failing: 5xx, 429, timeout, connection error
    NEUTRAL = "neutral"  # the destination answered, but refused this one item (bad data)


@dataclass
class Snapshot:
    state: State
    streak: int
    probe_at: datetime | None
    probe_until: datetime | None


_CLOSED = Snapshot(State.CLOSED, 0, None, None)


class Breaker:
    """The breakers of one process's destinations (their state is in the database)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._view: dict[str, Snapshot] = {}
        self._fetched = float("-inf")
        self._refreshing: asyncio.Lock | None = None
        self._known: set[str] = set()
        self._success_written: dict[str, float] = {}

    def _policy_failures(self, name: str) -> int:
        return self.gateway.settings.delivery.breaker.policy(name).failures

    async def _snapshot(self, name: str) -> Snapshot:
        if time.monotonic() - self._fetched > CACHE_TTL:
            if self._refreshing is None:
                self._refreshing = asyncio.Lock()
            async with self._refreshing:
                if time.monotonic() - self._fetched > CACHE_TTL:
                    await self.refresh()
        return self._view.get(name, _CLOSED)

    async def refresh(self) -> None:
        """Read every breaker now (the next ``gate`` sees changes made by other processes)."""
        async with self.gateway.db.transaction() as conn:
            rows = (await conn.execute(sa.select(destination_state))).all()
        self._view = {r.name: Snapshot(State(r.state), r.failure_streak, r.probe_at, r.probe_until) for r in rows}
        self._fetched = time.monotonic()

    async def closed(self, name: str) -> bool:
        """Whether ``name``'s breaker is closed as this process last saw it (read again when stale)."""
        return (await self._snapshot(name)).state is State.CLOSED

    async def gate(self, name: str) -> Gate:
        """May a delivery to ``name`` be attempted now? ``PROBE``: yes, as the destination's probe."""
        snap = await self._snapshot(name)
        if snap.state is State.CLOSED:
            return Gate.GO
        if snap.state is State.PAUSED:
            return Gate.WAIT
        now = datetime.now(UTC)
        due = (snap.state is State.OPEN and (snap.probe_at is None or snap.probe_at <= now)) or (
            snap.state is State.HALF_OPEN and (snap.probe_until is None or snap.probe_until < now)
        )
        if due and await self._claim_probe(name, now):
            return Gate.PROBE
        return Gate.WAIT

    async def _claim_probe(self, name: str, now: datetime) -> bool:
        t = destination_state.c
        lease = now + timedelta(seconds=self.gateway.settings.queue.job_timeout)
        async with self.gateway.db.transaction() as conn:
            won = await conn.execute(
                sa.update(destination_state)
                .where(
                    t.name == name,
                    sa.or_(
                        sa.and_(t.state == State.OPEN, sa.or_(t.probe_at.is_(None), t.probe_at <= now)),
                        sa.and_(t.state == State.HALF_OPEN, t.probe_until < now),
                    ),
                )
                .values(state=State.HALF_OPEN, probe_until=lease, updated_at=now)
            )
            if won.rowcount == 1:
                await self._audit(conn, name, "destination_probe", None)
        # Won or lost, this process now knows a probe is under way.
        self._view[name] = Snapshot(State.HALF_OPEN, self._view.get(name, _CLOSED).streak, None, lease)
        return won.rowcount == 1

    async def release_probe(self, name: str) -> None:
        """The probe claimed no delivery (another worker had it): let the next one probe at once."""
        t = destination_state.c
        async with self.gateway.db.transaction() as conn:
            await conn.execute(
                sa.update(destination_state)
                .where(t.name == name, t.state == State.HALF_OPEN)
                .values(state=State.OPEN, probe_until=None, updated_at=datetime.now(UTC))
            )
        self._fetched = float("-inf")

    async def record(self, name: str, verdict: Verdict, *, probe: bool, error: str | None = None) -> State | None:
        """Count one attempt's outcome; returns the new state if this outcome changed it."""
        if verdict is Verdict.NEUTRAL:
            if not probe:
                return None
            verdict = Verdict.SUCCESS  # the destination answered: it is up
        if verdict is Verdict.SUCCESS:
            return await self._succeeded(name, probe=probe)
        return await self._failed(name, probe=probe, error=error)

    def quiet(self, name: str) -> bool:
        """Whether a success at ``name`` has nothing to write (closed, no streak, success written lately)."""
        snap = self._view.get(name, _CLOSED)
        written = self._success_written.get(name, float("-inf"))
        return snap.state is State.CLOSED and snap.streak == 0 and time.monotonic() - written < SUCCESS_EVERY

    async def _ensure(self, name: str) -> None:
        if name in self._known:
            return
        async with self.gateway.db.transaction() as conn:
            found = await conn.execute(sa.select(destination_state.c.name).where(destination_state.c.name == name))
            if found.first() is None:
                try:
                    async with conn.begin_nested():
                        await conn.execute(
                            destination_state.insert().values(
                                name=name, state=State.CLOSED, failure_streak=0, updated_at=datetime.now(UTC)
                            )
                        )
                except IntegrityError:
                    pass  # another process made it first
        self._known.add(name)

    async def _succeeded(self, name: str, *, probe: bool) -> State | None:
        snap = self._view.get(name, _CLOSED)
        clock = time.monotonic()
        if not probe and snap.streak == 0 and clock - self._success_written.get(name, float("-inf")) < SUCCESS_EVERY:
            return None
        self._success_written[name] = clock
        await self._ensure(name)
        now = datetime.now(UTC)
        t = destination_state.c
        async with self.gateway.db.transaction() as conn:
            await conn.execute(
                sa.update(destination_state)
                .where(t.name == name)
                .values(failure_streak=0, last_success_at=now, updated_at=now)
            )
            if probe:
                resumed = await conn.execute(
                    sa.update(destination_state)
                    .where(t.name == name, t.state == State.HALF_OPEN)
                    .values(**_closed(now))
                )
                if resumed.rowcount == 1:
                    await self._audit(conn, name, "destination_resumed", {"by": "probe"})
        self._view[name] = Snapshot(State.CLOSED if probe else snap.state, 0, None, None)
        if probe:
            log.info("destination %s resumed: its probe was delivered", name)
            return State.CLOSED
        return None

    async def _failed(self, name: str, *, probe: bool, error: str | None) -> State | None:
        await self._ensure(name)
        now = datetime.now(UTC)
        policy = self.gateway.settings.delivery.breaker.policy(name)
        t = destination_state.c
        changed: State | None = None
        async with self.gateway.db.transaction() as conn:
            row = (
                await conn.execute(
                    sa.update(destination_state)
                    .where(t.name == name)
                    .values(failure_streak=t.failure_streak + 1, last_failure_at=now, last_error=error, updated_at=now)
                    .returning(t.state, t.failure_streak, t.cooldown)
                )
            ).one()
            if probe and row.state == State.HALF_OPEN:
                cooldown = min((row.cooldown or policy.cooldown) * 2, policy.max_cooldown)
                again = await conn.execute(
                    sa.update(destination_state)
                    .where(t.name == name, t.state == State.HALF_OPEN)
                    .values(
                        state=State.OPEN,
                        cooldown=cooldown,
                        probe_at=now + timedelta(seconds=cooldown),
                        probe_until=None,
                    )
                )
                if again.rowcount == 1:
                    changed = State.OPEN
                    await self._audit(conn, name, "destination_probe_failed", {"cooldown": cooldown, "error": error})
            elif policy.failures and row.state == State.CLOSED and row.failure_streak >= policy.failures:
                opened = await conn.execute(
                    sa.update(destination_state)
                    .where(t.name == name, t.state == State.CLOSED)
                    .values(
                        state=State.OPEN,
                        cooldown=policy.cooldown,
                        probe_at=now + timedelta(seconds=policy.cooldown),
                        paused_since=now,
                        paused_by=None,
                    )
                )
                if opened.rowcount == 1:
                    changed = State.OPEN
                    await self._audit(
                        conn,
                        name,
                        "destination_paused",
                        {"failures": row.failure_streak, "cooldown": policy.cooldown, "error": error},
                    )
        if changed is not None:
            # Not the error: it may quote the far side's answer (personal data); it is in the destination's state.
            log.warning("destination %s paused after %d failed attempts", name, row.failure_streak)
            self._fetched = float("-inf")
        else:
            snap = self._view.get(name, _CLOSED)
            self._view[name] = Snapshot(snap.state, row.failure_streak, snap.probe_at, snap.probe_until)
        return changed

    async def pause(self, name: str, *, by: str | None, actor_type: str = "system") -> bool:
        """Pause ``name`` by hand until resumed; ``False`` if it already was."""
        await self._ensure(name)
        now = datetime.now(UTC)
        t = destination_state.c
        async with self.gateway.db.transaction() as conn:
            done = await conn.execute(
                sa.update(destination_state)
                .where(t.name == name, t.state != State.PAUSED)
                .values(
                    state=State.PAUSED,
                    paused_since=sa.func.coalesce(t.paused_since, now),
                    paused_by=by,
                    probe_at=None,
                    probe_until=None,
                    updated_at=now,
                )
            )
            if done.rowcount == 1:
                await self._audit(conn, name, "destination_paused", {"by": "hand"}, actor=by, actor_type=actor_type)
        self._fetched = float("-inf")
        return done.rowcount == 1

    async def resume(self, name: str, *, by: str | None, actor_type: str = "system") -> bool:
        """Close ``name``'s breaker by hand (paused or open); ``False`` if it was closed."""
        await self._ensure(name)
        now = datetime.now(UTC)
        t = destination_state.c
        async with self.gateway.db.transaction() as conn:
            done = await conn.execute(
                sa.update(destination_state).where(t.name == name, t.state != State.CLOSED).values(**_closed(now))
            )
            if done.rowcount == 1:
                await self._audit(conn, name, "destination_resumed", {"by": "hand"}, actor=by, actor_type=actor_type)
        self._fetched = float("-inf")
        return done.rowcount == 1

    async def _audit(
        self,
        conn: AsyncConnection,
        name: str,
        action: str,
        detail: dict[str, Any] | None,
        *,
        actor: str | None = None,
        actor_type: str = "system",
    ) -> None:
        row = self.gateway.audit.row(
            "admin" if actor else "system",
            action=action,
            actor=actor or f"destination:{name}",
            actor_type=actor_type,
            detail={"destination": name, **(detail or {})},
        )
        await conn.execute(audit_log.insert().values(**row))


def _closed(now: datetime) -> dict[str, Any]:
    return {
        "state": State.CLOSED,
        "failure_streak": 0,
        "cooldown": None,
        "probe_at": None,
        "probe_until": None,
        "paused_since": None,
        "paused_by": None,
        "updated_at": now,
    }


async def held_back(conn: AsyncConnection, now: datetime) -> tuple[list[str], list[str]]:
    """Destinations whose deliveries wait (not closed), and those of them due a probe now."""
    t = destination_state.c
    rows = (await conn.execute(sa.select(t.name, t.state, t.probe_at, t.probe_until).where(t.state.in_(HELD)))).all()
    due = [
        r.name
        for r in rows
        if (r.state == State.OPEN and (r.probe_at is None or r.probe_at <= now))
        or (r.state == State.HALF_OPEN and (r.probe_until is None or r.probe_until < now))
    ]
    return [r.name for r in rows], due


async def states(conn: AsyncConnection) -> dict[str, dict[str, Any]]:
    """Every stored breaker, by destination name."""
    rows = (await conn.execute(sa.select(destination_state))).all()
    return {r.name: dict(r._mapping) for r in rows}
