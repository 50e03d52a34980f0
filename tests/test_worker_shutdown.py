"""``switchboard worker`` (``run_worker``) says when it stops, and how many running jobs it waited for."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from core.pipeline.worker import run_worker
from core.testing import wait_until

pytestmark = pytest.mark.stacks("postgres")  # the arq worker needs Redis


async def test_the_worker_logs_one_line_when_it_stops_with_the_jobs_it_waited_for(
    clean_stack, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="switchboard.worker")
    worker = asyncio.create_task(run_worker(clean_stack.settings()))

    def built() -> bool:
        assert not worker.done(), worker
        return any(r.getMessage().startswith("worker functions") for r in caplog.records)

    await wait_until(built, timeout=60, message="the worker to start")
    os.kill(os.getpid(), signal.SIGTERM)  # run_worker's own handler: the loop's, removed as it returns
    await asyncio.wait_for(worker, 60)
    stopped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("worker stopped")]
    assert stopped == ["worker stopped; waited for 0 running jobs"]
