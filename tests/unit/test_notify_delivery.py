"""The delivery aggregate, the message templates and the webhook signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from services.notify.adapters.channels import sign
from services.notify.domain.delivery import Delivery, delivery_id, retry_delay_s
from services.notify.domain.templates import Context, DigestLine, render, render_digest

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def pending() -> Delivery:
    return Delivery(
        id=delivery_id("e1", "v1", "webhook"),
        event_id="e1",
        event_type="org.tongxin.need.approved",
        subject="n1",
        need_id="n1",
        community_id="a.b.c",
        recipient_id="v1",
        channel="webhook",
        target="https://x",
        title="t",
        body="b",
        due_at=NOW,
        created_at=NOW,
    )


def test_delivery_id_names_event_recipient_and_channel() -> None:
    assert pending().id == "e1:v1:webhook"


def test_an_attempt_is_leased_so_nobody_else_starts_it() -> None:
    started = pending().start_attempt(NOW, LEASE)
    assert started.attempts == 1 and started.leased(NOW)
    with pytest.raises(ValueError):
        started.start_attempt(NOW + timedelta(seconds=1), LEASE)
    assert started.ready(NOW + LEASE)  # a lease that ran out: the sender died


def test_failed_attempts_retry_later_then_fail_for_good_with_an_event() -> None:
    d = pending().start_attempt(NOW, LEASE)
    retry, event = d.attempt_failed(NOW, "HTTP 503", max_attempts=2, retry_in_s=4, permanent=False)
    assert event is None and retry.status == "pending"
    assert retry.due_at == NOW + timedelta(seconds=4) and not retry.leased(NOW)
    again = retry.start_attempt(NOW + timedelta(seconds=4), LEASE)
    failed, event = again.attempt_failed(NOW, "HTTP 503", 2, 4, permanent=False)
    assert failed.status == "failed" and event is not None
    assert (event.notification_id, event.attempts, event.error) == ("e1:v1:webhook", 2, "HTTP 503")
    assert event.subject() == "e1:v1:webhook" and event.community() == "a.b.c"


def test_a_permanent_failure_is_not_retried() -> None:
    d = pending().start_attempt(NOW, LEASE)
    failed, event = d.attempt_failed(NOW, "HTTP 410", max_attempts=5, retry_in_s=1, permanent=True)
    assert failed.status == "failed" and event is not None and event.attempts == 1


def test_success_records_delivery_and_its_event() -> None:
    done, event = pending().start_attempt(NOW, LEASE).succeeded(NOW)
    assert done.status == "delivered" and done.delivered_at == NOW
    assert event.type == "org.tongxin.notification.delivered" and event.source_event_id == "e1"


def test_retry_delay_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    for attempt, step in ((1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)):
        delays = [retry_delay_s(attempt, 1.0, 30.0) for _ in range(50)]
        assert all(step / 2 <= d <= step for d in delays)
        assert len(set(delays)) > 1


def test_signature_is_hex_hmac_sha256_of_the_body() -> None:
    body = b'{"id":"e1"}'
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert sign("s3cret", body) == f"sha256={expected}"


# --- templates ----------------------------------------------------------------------------


def test_messages_are_chinese_by_default_and_english_on_request() -> None:
    data = {"title": "买年货", "category": "elderly_care", "slots": 2}
    zh = render(
        "org.tongxin.need.approved", "match", data, "a.b.dongfeng", Context(distance_km=0.82)
    )
    assert zh.title == "新的服务项目"
    assert zh.body == "dongfeng有新的老有所养项目“买年货”，需要2人，距您约0.8公里。欢迎认领！"
    en = render(
        "org.tongxin.need.approved",
        "match",
        data,
        "a.b.dongfeng",
        Context(community_name="Dongfeng", distance_km=0.82),
        "en",
    )
    assert en.body == (
        'Dongfeng has a new elderly care project "买年货" needing 2 volunteers (0.8 km from you).'
    )


def test_template_uses_the_claims_title_from_the_read_model_and_the_release_reason() -> None:
    data = {"reason": "expired", "category": "x"}
    msg = render("org.tongxin.project.claim_released", "claimer", data, "a", Context("陪诊"))
    assert msg.title == "认领已超期释放" and "陪诊" in msg.body


def test_subscribers_of_other_types_get_a_generic_message() -> None:
    msg = render(
        "org.tongxin.team.formed", "subscriber", {}, "a.b.c", Context(community_name="东风")
    )
    assert msg.body == "【东风】服务队成立：一项需求"


def test_digest_counts_items_and_lists_the_first_twenty() -> None:
    lines = [DigestLine("新的服务项目", f"需求{i}") for i in range(23)]
    msg = render_digest("2026-03-02", lines)
    assert msg.title == "同心每日摘要（2026-03-02）"
    assert msg.body.splitlines()[0] == "2026-03-02 共有23条新消息："
    assert "需求19" in msg.body and "需求20" not in msg.body and "另有3条" in msg.body
    assert render_digest("2026-03-02", lines[:1], "en").body.startswith("1 new notifications")
