"""Verified hours, pure: declared → verified / review / disputed, plausibility, auto-confirm,
completion with fewer people than planned."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.needs.domain import completion, verification
from services.needs.domain.completion import CompletionRecord
from services.needs.domain.need import Need
from services.needs.domain.verification import Correction
from shared.errors import DomainError
from shared.events.needs import HoursDisputed, HoursVerified, TaskCompleted, VolunteerHours
from tests.unit.test_needs_domain import T0, a_need, claim


def completed(
    hours: float = 3, slots: int = 1, days: int = 7, **figures: int
) -> tuple[Need, TaskCompleted]:
    need = claim(a_need(slots=slots), "v1")
    record = CompletionRecord(
        "done-1",
        (VolunteerHours(volunteer_id="v1", hours=hours),),
        auto_confirm_days=days,
        **figures,  # type: ignore[arg-type]
    )
    reasons = tuple(verification.review_reasons(need, record))
    record = CompletionRecord(
        record.completion_id,
        record.hours,
        beneficiaries_served=record.beneficiaries_served,
        goods_count=record.goods_count,
        funds_cents=record.funds_cents,
        review_reasons=reasons,
        auto_confirm_days=days,
    )
    done, events = completion.complete(need, record, "v1", T0)
    event = events[0]
    assert isinstance(event, TaskCompleted)
    return done, event


def test_declared_hours_are_verified_by_the_residents_confirmation_not_by_completion() -> None:
    need, event = completed(3)
    assert event.hours_status == "declared"
    assert need.completion is not None and need.completion.hours_status == "declared"
    confirmed, events = completion.confirm(need, 5, None, "res-1", T0)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["TaskConfirmed", "HoursVerified"]
    verified = events[1]
    assert isinstance(verified, HoursVerified)
    assert (verified.revision, verified.via, verified.auto) == (1, "resident", False)
    assert confirmed.completion is not None and confirmed.completion.hours_status == "verified"


def test_a_grid_worker_verifies_declared_hours_but_only_an_admin_settles_with_a_reason() -> None:
    need, _ = completed(3)
    verified, events = verification.verify(need, "grid-1", "grid_worker", T0, Correction(), None)
    assert isinstance(events[0], HoursVerified) and events[0].via == "grid_worker"
    with pytest.raises(DomainError) as already:
        verification.verify(verified, "admin", "admin", T0, Correction(), "again")
    assert already.value.kind == "conflict"
    fewer = Correction(hours=(VolunteerHours(volunteer_id="v1", hours=2),))
    with pytest.raises(DomainError) as no_reason:
        verification.verify(verified, "admin", "admin", T0, fewer, None)
    assert no_reason.value.kind == "invalid"
    with pytest.raises(DomainError) as grid:
        verification.verify(verified, "grid-1", "grid_worker", T0, fewer, "少了一小时")
    assert grid.value.kind == "forbidden"
    _, events = verification.verify(verified, "admin", "admin", T0, fewer, "少了一小时")
    [event] = events
    assert isinstance(event, HoursVerified)
    assert (event.revision, event.hours[0].hours, event.reason) == (2, 2, "少了一小时")


def test_a_dispute_waits_for_an_admin_and_the_residents_rating_does_not_verify_it() -> None:
    need, _ = completed(3)
    disputed, events = verification.dispute(need, "res-1", "只来了两小时", T0)
    assert isinstance(events[0], HoursDisputed) and not events[0].was_verified
    confirmed, events = completion.confirm(disputed, 4, None, "res-1", T0)
    assert [type(e).__name__ for e in events] == ["TaskConfirmed"]
    assert confirmed.completion is not None and confirmed.completion.hours_status == "disputed"
    with pytest.raises(DomainError):
        verification.dispute(disputed, "res-1", "again", T0)
    _, events = verification.verify(
        disputed,
        "admin",
        "admin",
        T0,
        Correction(hours=(VolunteerHours(volunteer_id="v1", hours=2),)),
        "核实为两小时",
    )
    assert isinstance(events[0], HoursVerified) and events[0].hours[0].hours == 2


@pytest.mark.parametrize(
    ("hours", "figures", "flagged"),
    [
        (3, {}, False),
        (12, {}, False),
        (12.5, {}, True),
        (3, {"funds_cents": 10**12}, True),
        (3, {"funds_cents": 100_000_000}, False),
        (3, {"beneficiaries_served": 10**7}, True),
        (3, {"goods_count": 10**7}, True),
    ],
)
def test_implausible_declarations_go_to_review_and_auto_confirm_skips_them(
    hours: float, figures: dict[str, int], flagged: bool
) -> None:
    need, event = completed(hours, **figures)
    assert (event.hours_status == "review") is flagged
    assert bool(event.review_reasons) is flagged
    later = T0 + timedelta(days=30)
    _, events = verification.auto_confirm(need, later)
    assert bool(events) is not flagged


def test_review_is_settled_by_an_admin_only() -> None:
    need, _ = completed(3, funds_cents=10**12)
    with pytest.raises(DomainError) as grid:
        verification.verify(need, "grid-1", "grid_worker", T0, Correction(), None)
    assert grid.value.kind == "forbidden"
    _, events = verification.verify(
        need, "admin", "admin", T0, Correction(funds_cents=5000), "票据为 50 元"
    )
    assert isinstance(events[0], HoursVerified) and events[0].funds_cents == 5000


def test_auto_confirm_after_the_districts_days_marks_the_event_auto() -> None:
    need, _ = completed(3, days=3)
    assert need.next_auto_confirm == T0 + timedelta(days=3)
    assert verification.auto_confirm(need, T0 + timedelta(days=2, hours=23))[1] == []
    confirmed, events = verification.auto_confirm(need, T0 + timedelta(days=3))
    [event] = events
    assert isinstance(event, HoursVerified) and (event.auto, event.via) == (True, "auto")
    assert confirmed.next_auto_confirm is None


def test_a_two_person_job_done_by_one_completes_with_the_unfilled_slot_closed() -> None:
    need, event = completed(3, slots=2)
    assert need.status == "completed" and event.slots_unfilled == 1
    empty = a_need(slots=2)
    with pytest.raises(DomainError) as refused:
        completion.complete(empty, CompletionRecord("x", ()), "admin", T0)
    assert refused.value.kind == "conflict"
