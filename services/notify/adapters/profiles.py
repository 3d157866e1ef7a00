"""Recipients' profiles: preferences, subscriptions and own contacts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from services.notify.adapters.read_model import SCOPE_TTL, _ScopeSubscribers
from services.notify.adapters.repository import _strip_head, read_head, update_aggregate
from services.notify.domain.audience import Profile, Subscription
from shared.cache import TtlCache
from shared.clock import Clock
from shared.mongo.client import Database, find_by_ids
from shared.mongo.store import AggregateStore
from shared.orgpath import OrgPath

# Profiles the delivery path read lately, answered from memory this long (a change made here
# is seen at once, one made by another replica within PROFILE_TTL), at most this many.
PROFILE_TTL = SCOPE_TTL
PROFILES_HELD = 50_000


class Profiles:
    """Recipients' preferences and subscriptions (one aggregate per recipient), the index of
    subscription ids, and who subscribes to each scope."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.store = AggregateStore(db, "recipients")
        self.owners = db["subscription_owners"]
        self.scopes = AggregateStore(db, "scope_subscribers")
        self._scope_cache: TtlCache[str, list[str]] = TtlCache(
            SCOPE_TTL, self._scope_subscribers, clock=clock
        )
        self._held: TtlCache[str, Profile] = TtlCache(
            PROFILE_TTL, self.get, clock=clock, most=PROFILES_HELD
        )

    async def get(self, recipient_id: str) -> Profile:
        state = await read_head(self.store, recipient_id)
        return Profile.model_validate(state) if state else Profile(recipient_id=recipient_id)

    async def get_many(self, recipient_ids: Sequence[str]) -> dict[str, Profile]:
        """The profiles of many recipients at once: from memory for PROFILE_TTL after a
        read, the others with one `_id` lookup each, side by side (the delivery path)."""
        return await self._held.get_many(recipient_ids, self._load_many)

    async def _load_many(self, recipient_ids: list[str]) -> dict[str, Profile]:
        heads = await find_by_ids(self.store.heads, recipient_ids)
        return {
            rid: Profile.model_validate(_strip_head(heads[rid]))
            if rid in heads
            else Profile(recipient_id=rid)
            for rid in recipient_ids
        }

    async def update(
        self, recipient_id: str, change: Callable[[Profile], Profile | None]
    ) -> Profile:
        def apply(profile: Profile | None) -> Profile | None:
            return change(profile or Profile(recipient_id=recipient_id))

        self._held.forget(recipient_id)
        try:
            return await update_aggregate(self.store, recipient_id, Profile, apply) or Profile(
                recipient_id=recipient_id
            )
        finally:
            self._held.forget(recipient_id)  # a read begun while this was written is not held

    async def add_subscription(self, sub: Subscription) -> None:
        # Index first: an index entry without its subscription is skipped, never the reverse.
        await self.owners.insert_one(
            {"_id": sub.id, "recipient_id": sub.recipient_id, "scope": sub.scope}
        )
        if sub.audience == "scope":
            await self._scope_index(sub.scope, sub.id, sub.recipient_id)
        await self.update(sub.recipient_id, lambda p: p.subscribed(sub))

    async def remove_subscription(self, sub: Subscription) -> None:
        await self.update(sub.recipient_id, lambda p: p.unsubscribed(sub.id))
        if sub.audience == "scope":
            await self._scope_index(sub.scope, sub.id, None)
        await self.owners.delete_one({"_id": sub.id})

    async def subscription(self, subscription_id: str) -> Subscription | None:
        owner = await self.owners.find_one({"_id": subscription_id})
        if owner is None:
            return None
        profile = await self.get(owner["recipient_id"])
        return profile.subscriptions.get(subscription_id)

    async def _scope_index(self, scope: str, sub_id: str, recipient_id: str | None) -> None:
        self._scope_cache.clear()

        def change(state: _ScopeSubscribers | None) -> _ScopeSubscribers:
            subs = dict(state.subscriptions if state else {})
            if recipient_id is None:
                subs.pop(sub_id, None)
            else:
                subs[sub_id] = recipient_id
            return _ScopeSubscribers(subscriptions=subs)

        await update_aggregate(self.scopes, scope, _ScopeSubscribers, change)

    async def scope_subscribers(self, community: str) -> list[str]:
        """Recipients with a scope subscription covering `community`: from memory for
        SCOPE_TTL (a subscription made here is seen at once, one made by another replica
        within SCOPE_TTL)."""
        return await self._scope_cache.get(community)

    async def _scope_subscribers(self, community: str) -> list[str]:
        scopes: list[str] = list(OrgPath(community).ancestors())
        heads = await find_by_ids(self.scopes.heads, scopes)
        found: list[str] = []
        for scope in scopes:
            if scope in heads:
                found += _ScopeSubscribers.model_validate(heads[scope]).subscriptions.values()
        return list(dict.fromkeys(found))

    async def subscriptions_in(self, scope: str) -> list[Subscription]:
        state = await read_head(self.scopes, scope)
        if not state:
            return []
        out: list[Subscription] = []
        for sub_id in _ScopeSubscribers.model_validate(state).subscriptions:
            sub = await self.subscription(sub_id)
            if sub is not None:
                out.append(sub)
        return out
