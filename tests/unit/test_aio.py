"""shared.aio.nap: a loop that naps between passes always ends when cancelled."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import pytest

from shared.aio import nap


async def old_nap(wakeup: asyncio.Event, timeout_s: float) -> None:
    """What the loops did before: wait_for, which loses such a cancellation on Python 3.11."""
    try:
        await asyncio.wait_for(wakeup.wait(), timeout_s)
    except TimeoutError:
        pass
    wakeup.clear()


async def cancelled_as_woken(sleep: Callable[[asyncio.Event, float], Awaitable[None]]) -> bool:
    """True when a loop cancelled in the same turn as its wake-up ends."""
    wakeup = asyncio.Event()

    async def loop() -> None:
        while True:
            await sleep(wakeup, 10)

    task = asyncio.create_task(loop())
    for _ in range(3):
        await asyncio.sleep(0)  # the loop now waits in its nap
    wakeup.set()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=1)
    if not done:
        task.cancel()  # the test's own clean-up: a second cancel does reach it
        await asyncio.gather(task, return_exceptions=True)
    return bool(done)


async def test_a_cancellation_that_arrives_as_the_wakeup_is_set_ends_the_loop() -> None:
    assert await cancelled_as_woken(nap)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="a Python 3.11 wait_for behaviour")
async def test_the_check_above_can_fail_wait_for_loses_that_cancellation() -> None:
    assert not await cancelled_as_woken(old_nap)


async def test_a_nap_ends_when_woken_and_after_its_timeout() -> None:
    wakeup = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, wakeup.set)
    await asyncio.wait_for(nap(wakeup, 10), 1)
    assert not wakeup.is_set()
    await asyncio.wait_for(nap(wakeup, 0.01), 1)
