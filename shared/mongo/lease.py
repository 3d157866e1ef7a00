"""A lease held by one replica at a time, decided by unique inserts (no compare-and-set).

Time is cut into terms of `term_s` seconds. A replica holds term t when its insert of the
document `<name>:<t>` won (or the document names it). The holder claims the next term
half-way through its own, so it keeps the lease across the boundary; a holder that died
stops claiming, and another replica takes over within two terms. A replica that stops
cleanly deletes its terms, so a successor takes over at once.

It needs the replicas' clocks to agree to well within a term (NTP does that): with a clock
ahead by more than the half term, two replicas could each hold a term for the difference.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable

from pymongo.errors import DuplicateKeyError

from shared.mongo.client import Database

LEASES = "leases"
# Terms older than this many are deleted by the holder (the collection stays small).
KEEP_TERMS = 10


def replica_id() -> str:
    """Names this process among the service's replicas."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    def __init__(
        self,
        db: Database,
        name: str,
        holder: str,
        term_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._leases = db[LEASES]
        self._name = name
        self.holder = holder
        self._term_s = term_s
        self._clock = clock
        self._held: set[int] = set()

    def _id(self, term: int) -> str:
        return f"{self._name}:{term}"

    async def held(self) -> bool:
        """Whether this replica holds the lease now (claiming the term or the next one)."""
        now = self._clock()
        term = int(now // self._term_s)
        if term not in self._held and not await self._claim(term):
            return False
        if now - term * self._term_s >= self._term_s / 2 and term + 1 not in self._held:
            await self._claim(term + 1)
            await self._leases.delete_many(
                {"_id": {"$in": [self._id(t) for t in range(term - 2 * KEEP_TERMS, term - 1)]}}
            )
        self._held = {t for t in self._held if t >= term}
        return True

    async def _claim(self, term: int) -> bool:
        try:
            await self._leases.insert_one(
                {"_id": self._id(term), "holder": self.holder, "claimed_at": self._clock()}
            )
        except DuplicateKeyError:
            found = await self._leases.find_one({"_id": self._id(term)})
            if found is None or found.get("holder") != self.holder:
                return False
        self._held.add(term)
        return True

    async def release(self) -> None:
        """Gives up the terms this replica holds, so that another takes over at once."""
        held, self._held = self._held, set()
        for term in held:
            await self._leases.delete_one({"_id": self._id(term), "holder": self.holder})
