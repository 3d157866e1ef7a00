"""The shared kernel: org paths, the one domain error and its HTTP mapping, masking, the
dead-letter headers."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from pymongo.errors import AutoReconnect

from shared.errors import DomainError
from shared.http import install_error_handlers
from shared.kafka.deadletter import dead_letter_headers
from shared.orgpath import OrgPath
from shared.privacy import mask_phone

GRID = OrgPath("zhongshan.hongyan.dongfeng.g3")


def test_an_org_path_knows_its_level_parent_and_ancestors() -> None:
    assert [OrgPath(p).level for p in ("zs", "zs.hy", "zs.hy.df", "zs.hy.df.g3")] == [
        "district",
        "street",
        "community",
        "grid",
    ]
    assert GRID.depth == 4 and GRID.parent == "zhongshan.hongyan.dongfeng"
    assert OrgPath("zhongshan").parent is None
    assert GRID.ancestors() == [
        "zhongshan",
        "zhongshan.hongyan",
        "zhongshan.hongyan.dongfeng",
        GRID,
    ]
    assert GRID.upto(2) == "zhongshan.hongyan" and GRID.upto(9) == GRID


def test_a_scope_covers_itself_and_what_is_below_it_only() -> None:
    street = OrgPath("zs.hy")
    assert street.covers("zs.hy.df") and street.covers("zs.hy")
    assert not street.covers("zs.hyx.df") and not street.covers("zs")


def test_the_mongo_filter_matches_what_covers_matches() -> None:
    pattern = OrgPath("zs.h-y")
    regex = pattern.mongo_filter("community_id")["community_id"]["$regex"]
    assert regex == "^zs\\.h\\-y(\\.|$)"


def test_parse_refuses_bad_paths_naming_the_field_in_both_languages() -> None:
    for bad in ("", "A.b", "a..b", "a.b.c.d.e", "a b", "x" * 41):
        with pytest.raises(DomainError) as refused:
            OrgPath.parse(bad, field="home_community_id")
        assert refused.value.kind == "invalid"
        assert refused.value.details == {"field": "home_community_id"}
        assert "组织路径无效 / invalid org path" in refused.value.message
    assert OrgPath.parse("zs.hy.df") == "zs.hy.df"


def test_as_a_field_type_an_org_path_is_validated_and_serialized_as_text() -> None:
    class Body(BaseModel):
        community_id: OrgPath

    body = Body(community_id="zs.hy.df")  # type: ignore[arg-type]
    assert isinstance(body.community_id, OrgPath) and body.community_id.level == "community"
    assert body.model_dump(mode="json") == {"community_id": "zs.hy.df"}
    with pytest.raises(ValidationError):
        Body(community_id="Not A Path")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("invalid", 422, "validation_failed"),
        ("not_found", 404, "not_found"),
        ("forbidden", 403, "forbidden"),
        ("conflict", 409, "conflict"),
        ("busy", 503, "unavailable"),
    ],
)
async def test_a_domain_error_answers_its_status_once_for_every_service(
    kind: str, status: int, code: str
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/refuse")
    async def refuse() -> None:
        raise DomainError(kind, "评分须为 1–5 / rating must be 1–5", field="rating")  # type: ignore[arg-type]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/refuse")
    assert r.status_code == status
    assert r.json() == {
        "error": {
            "code": code,
            "message": "rating: 评分须为 1–5 / rating must be 1–5",
            "details": {"field": "rating"},
        }
    }


def test_phones_are_masked_but_for_the_first_three_and_last_four_digits() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("1234567") == "****"


def test_dead_letter_headers_say_why_how_often_and_whence() -> None:
    headers = dict(
        dead_letter_headers(
            "ValueError: " + "x" * 5000, "ValueError", 5, original_topic="tongxin.needs.v1"
        )
    )
    assert headers["tongxin-error-type"] == b"ValueError"
    assert headers["tongxin-attempts"] == b"5"
    assert headers["tongxin-original-topic"] == b"tongxin.needs.v1"
    assert len(headers["tongxin-error"]) == 4000


async def test_a_dependency_failure_is_a_503_without_its_internals() -> None:
    """Issue 19: a 503 once carried `AutoReconnect('127.0.0.1:27017 … socketTimeoutMS …')`."""
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/down")
    async def down() -> None:
        raise AutoReconnect("127.0.0.1:27017: timed out (configured timeouts: socketTimeoutMS)")

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("secret internals at /srv/app.py line 42")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        down_resp, bug_resp = await client.get("/down"), await client.get("/bug")
    assert down_resp.status_code == 503
    assert down_resp.json()["error"]["message"].startswith("依赖服务暂不可用")
    assert bug_resp.status_code == 500
    for resp in (down_resp, bug_resp):
        for internal in ("27017", "socketTimeoutMS", "AutoReconnect", "internals", "app.py"):
            assert internal not in resp.text, resp.text


async def test_a_wrong_method_lists_every_method_of_the_path_in_allow() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things")
    async def list_things() -> None: ...

    @app.post("/things")
    async def add_thing() -> None: ...

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        resp = await client.delete("/things")
    assert resp.status_code == 405
    assert set(resp.headers["allow"].split(", ")) == {"GET", "POST"}
    assert resp.json()["error"]["message"].startswith("不支持该请求方法")
