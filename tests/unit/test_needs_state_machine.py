"""Property: whatever commands arrive in whatever order, a need only moves along the
contract's transitions, and its slot count always equals the slots of its active claims."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from services.needs.domain import claim as claim_domain
from services.needs.domain import completion
from services.needs.domain import need as need_domain
from services.needs.domain.claim import ClaimRequest
from services.needs.domain.completion import CompletionRecord
from services.needs.domain.need import Change, Need, Requester
from shared.errors import DomainError
from shared.events.needs import VolunteerHours

T0 = datetime(2025, 3, 1, tzinfo=UTC)
VOLUNTEERS = [f"v{i}" for i in range(6)]

# docs/contract.md: pending_review → open → claimed → completed → confirmed; rejected and
# cancelled are final; releasing takes claimed back to open; an open need with active
# claims completes with the claimers who came (the other slots close unfilled).
EDGES: dict[str, set[str]] = {
    "pending_review": {"open", "rejected", "cancelled"},
    "open": {"open", "claimed", "cancelled", "completed"},
    "claimed": {"open", "completed"},
    "completed": {"confirmed"},
    "confirmed": set(),
    "rejected": set(),
    "cancelled": set(),
}
EVENT_OF = {
    "approve": "need.approved",
    "reject": "need.rejected",
    "cancel": "need.cancelled",
    "claim": "project.claimed",
    "release": "project.claim_released",
    "expire": "project.claim_released",
    "complete": "task.completed",
    "confirm": "task.confirmed",
}


class NeedLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.need: Need | None = None
        self.counter = 0
        self.statuses_seen: list[str] = []

    @precondition(lambda self: self.need is None)
    @rule(
        slots=st.integers(1, 4),
        due_in=st.one_of(st.none(), st.integers(1, 10)),
    )
    def post(self, slots: int, due_in: int | None) -> None:
        need = Need(
            id="n",
            community_id="zhongshan.hongyan.dongfeng",
            title="t",
            category="other",
            kind="project",
            slots=slots,
            requester=Requester(name="r", phone="13800000000"),
            requester_id="res",
            due_at=None if due_in is None else self.now + timedelta(days=due_in),
            status="pending_review",
            posted_by="res",
            created_at=self.now,
            updated_at=self.now,
        )
        self.need, events = need_domain.post_need(need, self.now)
        assert [e.type for e in events] == ["org.tongxin.need.posted"]
        self.statuses_seen.append(self.need.status)

    def apply(self, action: str, command: Callable[[Need], Change]) -> None:
        assert self.need is not None
        before = self.need
        try:
            after, events = command(before)
        except DomainError as refused:
            assert refused.kind in ("forbidden", "not_found", "conflict", "invalid")
            return  # a refused command changes nothing (the caller commits nothing)
        if not events:
            assert after == before
            return
        assert after.status in EDGES[before.status], (before.status, after.status, action)
        # confirming declared hours also verifies them
        kinds = {e.type.removeprefix("org.tongxin.") for e in events} - {"hours.verified"}
        assert kinds == {EVENT_OF[action]}
        self.need = after
        self.statuses_seen.append(after.status)

    @precondition(lambda self: self.need is not None)
    @rule()
    def approve(self) -> None:
        self.apply("approve", lambda n: need_domain.approve(n, "admin", self.now))

    # Final moves are tried rarely (one draw in five), so that runs also reach the far end.
    @precondition(lambda self: self.need is not None)
    @rule(reason=st.sampled_from(["重复", "不在服务范围"]), draw=st.integers(0, 4))
    def reject(self, reason: str, draw: int) -> None:
        if draw == 0:
            self.apply("reject", lambda n: need_domain.reject(n, "admin", reason, self.now))

    @precondition(lambda self: self.need is not None)
    @rule(draw=st.integers(0, 4))
    def cancel(self, draw: int) -> None:
        if draw == 0:
            self.apply("cancel", lambda n: need_domain.cancel(n, "res", None, self.now))

    @precondition(lambda self: self.need is not None)
    @rule(
        kind=st.sampled_from(["volunteer", "team", "organization"]),
        members=st.lists(st.sampled_from(VOLUNTEERS), min_size=1, max_size=3),
        slots=st.integers(1, 3),
    )
    def claim(self, kind: str, members: list[str], slots: int) -> None:
        self.counter += 1
        cid = f"c{self.counter}"
        if kind == "volunteer":
            request = ClaimRequest(cid, "volunteer", members[0], 1, volunteer_ids=(members[0],))
        elif kind == "team":
            request = ClaimRequest(
                cid, "team", "lead", len(members), volunteer_ids=tuple(members), team_id="t1"
            )
        else:
            request = ClaimRequest(cid, "organization", "admin", slots, organization_id="o1")
        self.apply("claim", lambda n: claim_domain.claim_slots(n, request, self.now, 3))

    @precondition(lambda self: self.need is not None and self.need.claims)
    @rule(index=st.integers(0, 20))
    def release(self, index: int) -> None:
        assert self.need is not None
        target = self.need.claims[index % len(self.need.claims)].id
        self.apply("release", lambda n: claim_domain.release_claim(n, target, "someone", self.now))

    @precondition(lambda self: self.need is not None)
    @rule(days=st.integers(0, 5))
    def time_passes_and_overdue_claims_expire(self, days: int) -> None:
        self.now += timedelta(days=days, hours=1)
        self.apply("expire", lambda n: claim_domain.expire_claims(n, self.now))

    @precondition(lambda self: self.need is not None)
    @rule(
        picks=st.lists(st.integers(0, 7), max_size=4, unique=True),
        hours=st.floats(0.5, 24),
        stranger=st.booleans(),
    )
    def complete(self, picks: list[int], hours: float, stranger: bool) -> None:
        assert self.need is not None
        self.counter += 1
        active = sorted(self.need.active_volunteers())
        who = sorted({active[i % len(active)] for i in picks}) if active else []
        if stranger:
            who.append("outsider")
        record = CompletionRecord(
            f"k{self.counter}", tuple(VolunteerHours(volunteer_id=v, hours=hours) for v in who)
        )
        self.apply("complete", lambda n: completion.complete(n, record, "v0", self.now))

    @precondition(lambda self: self.need is not None)
    @rule(rating=st.integers(0, 6))
    def confirm(self, rating: int) -> None:
        self.apply("confirm", lambda n: completion.confirm(n, rating, None, "res", self.now))

    @invariant()
    def slots_match_active_claims(self) -> None:
        need = self.need
        if need is None:
            return
        active = need.active_claims()
        assert need.slots_taken == sum(c.slots for c in active) <= need.slots
        if need.status == "open":
            assert need.slots_taken < need.slots
        if need.status == "claimed":
            assert need.slots_taken == need.slots
        if need.status not in ("open", "claimed"):
            assert active == []
        volunteers = [v for c in active for v in c.volunteer_ids]
        assert len(volunteers) == len(set(volunteers)), "a volunteer holds two active claims"
        assert {v for c in need.claims for v in c.volunteer_ids} <= set(need.participants)
        expiries = [c.expires_at for c in active if c.expires_at]
        assert need.next_claim_expiry == (min(expiries) if expiries else None)

    @invariant()
    def completion_and_confirmation_match_the_status(self) -> None:
        need = self.need
        if need is None:
            return
        done = need.status in ("completed", "confirmed")
        assert (need.completion is not None) == done
        assert (need.confirmation is not None) == (need.status == "confirmed")
        if done:
            assert any(c.status == "completed" for c in need.claims)
        if need.confirmation is not None:
            assert 1 <= need.confirmation.rating <= 5

    @invariant()
    def the_path_is_one_the_rules_allow(self) -> None:
        path = self.statuses_seen
        assert all(b in EDGES[a] for a, b in pairwise(path))


NeedLifecycle.TestCase.settings = settings(
    max_examples=500,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_any_command_sequence_keeps_the_need_in_a_reachable_consistent_state = NeedLifecycle.TestCase
