"""Rate limits on every read and write of the /v1 API, per principal and per client address,
answered 429 with Retry-After; and a cap on concurrent event streams per user.

Moving windows of the `limits` library, kept in each instance's memory (a limit holds per
instance: with N replicas behind a balancer a client gets at most N times it). The limits
are settings (`rate_limit_*`, in the `limits` notation: "120/minute", "10/second").
"""

from __future__ import annotations

import math
import time
from collections import Counter

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from shared.auth import current_principal
from shared.http import ApiError
from shared.settings import Settings

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def throttled(retry_after: float, what: str) -> ApiError:
    seconds = max(1, math.ceil(retry_after))
    return ApiError(
        429,
        f"请求过于频繁，请 {seconds} 秒后再试 / too many requests ({what}): retry in {seconds} s",
        details={"retry_after": seconds, "limit": what},
        headers={"Retry-After": str(seconds)},
    )


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_principal = {
            "write": parse(settings.rate_limit_writes),
            "read": parse(settings.rate_limit_reads),
        }
        self._per_address = parse(settings.rate_limit_per_address)

    async def check(self, request: Request) -> None:
        """Counts the request against its address and (if it carries a valid token) its
        principal; raises 429 when either is over."""
        if not self.enabled or not request.url.path.startswith("/v1/"):
            return
        kind = "write" if request.method in WRITES else "read"
        address = request.client.host if request.client else "unknown"
        await self._hit(self._per_address, "address", address)
        if request.headers.get("authorization"):
            try:
                principal = await current_principal(request)
            except ApiError:
                return  # the route answers 401; the address limit still counts it
            await self._hit(self._per_principal[kind], kind, principal.sub)

    async def _hit(self, item: RateLimitItem, kind: str, who: str) -> None:
        if not await self._limiter.hit(item, kind, who):
            stats = await self._limiter.get_window_stats(item, kind, who)
            raise throttled(stats.reset_time - time.time(), f"{kind} {item}")


class StreamSlots:
    """At most `per_user` open event streams per user in this instance."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: Counter[str] = Counter()

    def take(self, user: str) -> None:
        """Takes a slot (429 when the user has them all); `give_back` when the stream ends."""
        if self._open[user] >= self.per_user:
            raise throttled(5, f"{self.per_user} streams per user")
        self._open[user] += 1

    def give_back(self, user: str) -> None:
        self._open[user] -= 1
        if self._open[user] <= 0:
            del self._open[user]


async def rate_limited(request: Request) -> None:
    """The app-wide dependency (shared.runtime): every /v1 request is counted."""
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if limits is not None:
        await limits.check(request)
