"""In-memory stand-ins for the adapters, for service-layer tests that need no broker or
database: a store with the real store's arbiter (a commit `<id>:<version>` is inserted once,
so races are decided as on FerretDB), the needs service's read model, the metrics fact
store, and a bus that drives a service's event-handler registry as the consumer runner does.

The fakes override every I/O method of the adapter they stand in for (they subclass it, so
a service is wired with them unchanged); queries over head documents are not faked: the
integration suite covers them on the real FerretDB."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from services.metrics.adapters.repository import FactStore, Versioned
from services.metrics.domain.facts import Fact, FactKind
from services.needs.adapters.read_model import Directory
from services.needs.domain.eligibility import (
    KnownOrganization,
    KnownOrgUnit,
    KnownTeam,
    KnownVolunteer,
)
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.registry import payload_of
from shared.events.volunteers import (
    DistrictRulesChanged,
    OrganizationRegistered,
    OrgUnitUpdated,
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
)
from shared.kafka.consumer import Handler
from shared.mongo.client import Document
from shared.mongo.store import AggregateStore, ConcurrencyConflict, NewCommit, commit_id
from shared.rules import DEFAULT_RULES, DistrictRules, district_of


class FakeHeads:
    """The head documents' `count_documents` for equality filters (a list field matches
    when it holds the value): what the needs service counts active claims with."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store

    async def count_documents(self, query: Document) -> int:
        def matches(state: Document) -> bool:
            return all(
                state.get(k) == v or (isinstance(state.get(k), list) and v in state[k])
                for k, v in query.items()
            )

        heads = [
            self._store.stored[commit_id(key, version)]["state"]
            for key, version in self._store.newest.items()
        ]
        return sum(matches(h) for h in heads)


class FakeStore(AggregateStore):
    """An aggregate store in memory. `published` holds the events of stored commits in
    commit order: what the relay would publish."""

    def __init__(self, name: str = "things") -> None:  # nothing of MongoDB is made
        self.name = name
        self.stored: dict[str, Document] = {}  # commit id → commit
        self.newest: dict[str, int] = {}  # aggregate id → version
        self.published: list[tuple[str, CloudEvent]] = []
        self.heads = FakeHeads(self)  # type: ignore[assignment]

    async def load(self, aggregate_id: str) -> tuple[Document | None, int]:
        version = self.newest.get(aggregate_id, 0)
        if version == 0:
            return None, 0
        return copy.deepcopy(self.stored[commit_id(aggregate_id, version)]["state"]), version

    async def roll_forward(self, aggregate_id: str) -> tuple[Document | None, int]:
        return await self.load(aggregate_id)

    async def commit(
        self,
        aggregate_id: str,
        expected_version: int,
        state: Document,
        events: Sequence[tuple[str, CloudEvent]] = (),
        meta: Document | None = None,
    ) -> int:
        # A write takes a round trip: concurrent writers interleave here as on a database.
        await asyncio.sleep(0)
        if not self._insert(NewCommit(aggregate_id, expected_version, state, events, meta)):
            raise ConcurrencyConflict(commit_id(aggregate_id, expected_version + 1))
        return expected_version + 1

    async def commit_many(self, commits: Sequence[NewCommit]) -> list[bool]:
        await asyncio.sleep(0)
        return [self._insert(c) for c in commits]

    def _insert(self, c: NewCommit) -> bool:
        """The arbiter: the unique insert of `<id>:<version>`."""
        version = c.expected_version + 1
        cid = commit_id(c.aggregate_id, version)
        if cid in self.stored:
            return False
        self.stored[cid] = {
            "_id": cid,
            "aggregate_id": c.aggregate_id,
            "version": version,
            "state": copy.deepcopy(c.state),
            "events": [{"topic": t, "id": e.id, "type": e.type} for t, e in c.events],
            "meta": c.meta or {},
            "created_at": datetime.now(UTC),
        }
        self.newest[c.aggregate_id] = max(version, self.newest.get(c.aggregate_id, 0))
        self.published.extend(c.events)
        return True

    async def first_state(self, aggregate_id: str) -> Document | None:
        commit = self.stored.get(commit_id(aggregate_id, 1))
        return None if commit is None else copy.deepcopy(commit["state"])

    async def history(self, aggregate_id: str, version: int) -> list[Document]:
        ids = [commit_id(aggregate_id, v) for v in range(1, version + 1)]
        return [copy.deepcopy(self.stored[i]) for i in ids if i in self.stored]

    async def committed(self, commit_ids: Sequence[str]) -> dict[str, Document]:
        return {i: self.stored[i] for i in commit_ids if i in self.stored}

    def take_published(self) -> list[CloudEvent]:
        events = [e for _, e in self.published]
        self.published.clear()
        return events


class FakeStores:
    """The stores of one service by aggregate name, made on first use."""

    def __init__(self) -> None:
        self.by_name: dict[str, FakeStore] = {}

    def __call__(self, name: str) -> FakeStore:
        return self.by_name.setdefault(name, FakeStore(name))

    def take_published(self) -> list[CloudEvent]:
        return [e for store in self.by_name.values() for e in store.take_published()]


class FakeDirectory(Directory):
    """The needs service's read model of the volunteers stream, in memory."""

    def __init__(self) -> None:  # nothing of MongoDB is made
        self.units: dict[str, KnownOrgUnit] = {}
        self.known_volunteers: dict[str, KnownVolunteer] = {}
        self.known_teams: dict[str, KnownTeam] = {}
        self.known_organizations: dict[str, KnownOrganization] = {}
        self.known_rules: dict[str, DistrictRules] = {}

    async def rules(self, path: str) -> DistrictRules:
        return self.known_rules.get(district_of(path), DEFAULT_RULES)

    async def record_rules(self, e: DistrictRulesChanged) -> None:
        self.known_rules[e.district] = DistrictRules.of_event(e)

    async def org_unit(self, path: str) -> KnownOrgUnit | None:
        return self.units.get(path)

    async def volunteer(self, volunteer_id: str) -> KnownVolunteer | None:
        return self.known_volunteers.get(volunteer_id)

    async def team(self, team_id: str) -> KnownTeam | None:
        return self.known_teams.get(team_id)

    async def organization(self, organization_id: str) -> KnownOrganization | None:
        return self.known_organizations.get(organization_id)

    async def record_org_unit(self, e: OrgUnitUpdated) -> None:
        self.units[e.path] = KnownOrgUnit(e.path, e.name, e.level)

    async def record_volunteer(self, e: VolunteerRegistered) -> None:
        self.known_volunteers[e.volunteer_id] = KnownVolunteer(
            e.volunteer_id, e.home_community_id, e.active
        )

    async def record_organization(self, e: OrganizationRegistered) -> None:
        self.known_organizations[e.organization_id] = KnownOrganization(
            e.organization_id, e.community_id
        )

    async def record_team_formed(self, e: TeamFormed) -> None:
        members = (*e.member_ids, e.leader_id)
        self.known_teams[e.team_id] = KnownTeam(
            e.team_id, e.community_id, e.leader_id, tuple(dict.fromkeys(members))
        )

    async def record_member_joined(self, e: TeamMemberJoined) -> None:
        team = self.known_teams.get(e.team_id) or KnownTeam(e.team_id, e.community_id, None, ())
        members = tuple(dict.fromkeys((*team.member_ids, e.volunteer_id)))
        self.known_teams[e.team_id] = KnownTeam(team.id, e.community_id, team.leader_id, members)

    async def record_leader_changed(self, e: TeamLeaderChanged) -> None:
        team = self.known_teams.get(e.team_id) or KnownTeam(e.team_id, e.community_id, None, ())
        members = tuple(dict.fromkeys((*team.member_ids, e.leader_id)))
        self.known_teams[e.team_id] = KnownTeam(team.id, e.community_id, e.leader_id, members)


class FakeFactStore(FactStore):
    """The metrics facts of one generation, in memory, with the same unique rule: a fact's
    version is stored once."""

    def __init__(self, generation: int = 1) -> None:  # nothing of MongoDB is made
        self.generation = generation
        self.versions: dict[tuple[FactKind, str], dict[int, Fact]] = {}

    async def insert(self, kind: FactKind, fact: Fact, version: int) -> None:
        if await self.insert_versions(kind, [(fact, version)]):
            raise ConcurrencyConflict(f"{fact.id}:{version}")

    async def insert_versions(self, kind: FactKind, versions: Sequence[Versioned]) -> set[str]:
        await asyncio.sleep(0)
        taken: set[str] = set()
        for fact, version in versions:
            held = self.versions.setdefault((kind, fact.id), {})
            if version in held:
                taken.add(fact.id)
            else:
                held[version] = fact.model_copy(deep=True)
        return taken

    async def newest_after(self, kind: FactKind, key: str, version: int) -> Versioned | None:
        held = self.versions.get((kind, key), {})
        found: Versioned | None = None
        while version + 1 in held:
            version += 1
            found = (held[version], version)
        return found

    async def newest(self, kind: FactKind) -> dict[str, Versioned]:
        out: dict[str, Versioned] = {}
        for (k, key), held in self.versions.items():
            if k == kind and held:
                top = max(held)
                out[key] = (held[top], top)
        return out


class InMemoryBus:
    """Delivers events to a service's bound handlers as the consumer runner does: the
    payload validated from the CloudEvent (unknown fields ignored), each event id handled
    once (the processed-event ledger), types the service does not handle ignored."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self.handlers = handlers
        self.seen: set[str] = set()
        self.handled: list[str] = []

    async def deliver(self, *events: CloudEvent | EventPayload) -> None:
        for item in events:
            event = item if isinstance(item, CloudEvent) else CloudEvent.wrap(item)
            handler = self.handlers.get(event.type)
            if handler is None or event.id in self.seen:
                continue
            # As from Kafka: the envelope's JSON, not the objects the producer held.
            arrived = CloudEvent.from_bytes(event.model_dump_json().encode())
            await handler(arrived, payload_of(arrived))
            self.seen.add(event.id)
            self.handled.append(event.type)


class NoDatabase:
    """For adapters built with a database they are not to use here: any collection asked
    for is a placeholder that fails if used."""

    def __getitem__(self, name: str) -> Any:
        return _Unused(name)


class _Unused:
    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        raise AssertionError(f"collection {self.name} used in a test without a database")
