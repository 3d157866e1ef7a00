import pytest
from pydantic import ValidationError

from shared.auth import Principal, TokenVerifier, in_scope, mint_token
from shared.http import ApiError
from shared.settings import Settings
from shared.signing import NoSigningKey
from tests.helpers import forged_auth, isolated_settings


def test_scope_covers_itself_and_what_is_below_it_only() -> None:
    assert in_scope("zs.hy.df", "zs.hy")
    assert in_scope("zs.hy", "zs.hy")
    assert not in_scope("zs.hyx.df", "zs.hy")
    assert not in_scope("zs", "zs.hy")


async def test_token_round_trip_through_the_jwks_and_a_stranger_key_refused() -> None:
    s = isolated_settings()
    verifier = TokenVerifier(s)
    tok = mint_token(s, "community_admin", "zs.hy.df", "u1")
    assert await verifier.principal(tok) == Principal("u1", "community_admin", "zs.hy.df")
    forged = forged_auth("community_admin", "zs.hy.df")["Authorization"].split()[1]
    with pytest.raises(ApiError) as err:
        await verifier.principal(forged)
    assert err.value.status == 401


def test_admin_acts_only_inside_its_scope_and_operator_only_reads() -> None:
    admin = Principal("a", "street_admin", "zs.hy")
    operator = Principal("o", "operator", "zs")
    assert admin.administers("zs.hy.df") and not admin.administers("zs.other")
    assert operator.reads("zs.hy.df") and not operator.administers("zs.hy.df")


def test_no_default_keys_outside_dev_profile() -> None:
    link = {"phone_link_key": "k" * 32}
    with pytest.raises(ValidationError, match="JWKS_URL"):
        Settings(profile="prod", **link)
    with pytest.raises(ValidationError, match="PHONE_LINK_KEY"):
        Settings(profile="prod", jwks_url="https://idp.example/jwks", phone_link_key="short")
    prod = Settings(profile="prod", jwks_url="https://idp.example/jwks", **link)
    with pytest.raises(NoSigningKey):  # nothing to sign with unless a key file is given
        mint_token(prod, "district_admin", "zs", "someone")
    assert Settings(var_dir="/srv/tx").jwt_keys_dir == "/srv/tx/identity/keys"


def test_topics_follow_the_contract_names() -> None:
    assert Settings().topics.all == [
        "tongxin.needs.v1",
        "tongxin.needs.v1.dlq",
        "tongxin.volunteers.v1",
        "tongxin.volunteers.v1.dlq",
        "tongxin.notify.v1",
        "tongxin.notify.v1.dlq",
        "tongxin.identity.v1",
        "tongxin.identity.v1.dlq",
    ]
