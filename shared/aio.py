"""Asyncio helpers the long-running loops share."""

from __future__ import annotations

import asyncio


async def nap(wakeup: asyncio.Event, timeout_s: float) -> None:
    """Sleeps until `wakeup` is set or `timeout_s` has passed, then clears it.

    Not `asyncio.wait_for`: on Python 3.11 it loses a cancellation that arrives just as the
    event is set, and a loop cancelled that way runs on for ever (a stop then hangs)."""
    try:
        async with asyncio.timeout(timeout_s):
            await wakeup.wait()
    except TimeoutError:
        pass
    wakeup.clear()
