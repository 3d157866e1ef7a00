"""Reminders (提醒): who should act, and when. No I/O.

Claimers hear of a claim's due date `CLAIM_REMINDER_BEFORE` ahead of it, once; after a
completion the resident is reminded every `CONFIRM_REMINDER_EVERY` until they confirm (or
the completion is confirmed automatically). Each reminder is one `reminder.due` event with
its own id, committed with the need, so a reminder is sent once however often the pass
runs; notify delivers it.
"""

from __future__ import annotations

from datetime import datetime

from services.needs.domain.need import (
    CLAIM_REMINDER_BEFORE,
    CONFIRM_REMINDER_EVERY,
    Change,
    Claim,
    Need,
    derived,
    need_ids,
)
from shared.events.envelope import EventPayload
from shared.events.needs import ReminderDue


def due(need: Need, now: datetime) -> Change:
    """The reminders due now, with the need marked as having sent them."""
    events: list[EventPayload] = []
    claims: list[Claim] = []
    for claim in need.claims:
        expires = claim.expires_at
        if (
            claim.status == "active"
            and claim.reminded_at is None
            and expires is not None
            and expires - CLAIM_REMINDER_BEFORE <= now < expires
        ):
            events.append(
                _reminder(
                    need,
                    now,
                    reason="claim_due",
                    reminder_id=f"{need.id}:{claim.id}:claim_due",
                    recipient_ids=sorted({*claim.volunteer_ids, claim.claimed_by}),
                    claim_id=claim.id,
                    due_at=expires,
                )
            )
            claim = claim.model_copy(update={"reminded_at": now})
        claims.append(claim)
    done = need.completion
    if (
        need.status == "completed"
        and done is not None
        and done.next_reminder_at is not None
        and done.next_reminder_at <= now
    ):
        sent = done.reminders_sent + 1
        events.append(
            _reminder(
                need,
                now,
                reason="confirm_service",
                reminder_id=f"{need.id}:{done.id}:confirm:{sent}",
                recipient_ids=[need.requester_id],
                completion_id=done.id,
                due_at=done.auto_confirm_at,
            )
        )
        done = done.model_copy(
            update={"reminders_sent": sent, "next_reminder_at": now + CONFIRM_REMINDER_EVERY}
        )
    if not events:
        return need, []
    return derived(need, claims=claims, completion=done, updated_at=now), events


def _reminder(need: Need, now: datetime, **fields: object) -> ReminderDue:
    return ReminderDue(
        **need_ids(need),
        title=need.title,
        requester_id=need.requester_id,
        sent_at=now,
        **fields,
    )
