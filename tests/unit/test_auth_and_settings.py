import pytest
from pydantic import ValidationError

from shared.auth import Principal, decode_token, in_scope, mint_token
from shared.http import ApiError
from shared.settings import Settings


def test_scope_covers_itself_and_what_is_below_it_only() -> None:
    assert in_scope("zs.hy.df", "zs.hy")
    assert in_scope("zs.hy", "zs.hy")
    assert not in_scope("zs.hyx.df", "zs.hy")
    assert not in_scope("zs", "zs.hy")


def test_token_round_trip_and_tampering() -> None:
    s = Settings()
    tok = mint_token(s, "community_admin", "zs.hy.df", "u1")
    assert decode_token(s, tok) == Principal("u1", "community_admin", "zs.hy.df")
    other = Settings(jwt_secret="x" * 40)
    with pytest.raises(ApiError) as err:
        decode_token(other, tok)
    assert err.value.status == 401


def test_admin_acts_only_inside_its_scope_and_operator_only_reads() -> None:
    admin = Principal("a", "street_admin", "zs.hy")
    operator = Principal("o", "operator", "zs")
    assert admin.administers("zs.hy.df") and not admin.administers("zs.other")
    assert operator.reads("zs.hy.df") and not operator.administers("zs.hy.df")


def test_no_default_secret_outside_dev_profile() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(profile="prod")
    with pytest.raises(ValidationError):
        Settings(profile="prod", jwt_secret="short")
    assert Settings(profile="prod", jwt_secret="s" * 32).secret == "s" * 32


def test_topics_follow_the_contract_names() -> None:
    assert Settings().topics.all == [
        "tongxin.needs.v1",
        "tongxin.needs.v1.dlq",
        "tongxin.volunteers.v1",
        "tongxin.volunteers.v1.dlq",
        "tongxin.notify.v1",
        "tongxin.notify.v1.dlq",
    ]
