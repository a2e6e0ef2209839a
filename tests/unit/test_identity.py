"""handlers/identity.py: the API believes no claim a person could have written into their token.

Each case is a token API Gateway's authorizer would pass (signed by the pool, unexpired): the
claims are what an emulator let a person put there, or a token of the wrong kind."""

from __future__ import annotations

import time

import pytest

from handlers import errors
from handlers.identity import GROUPS_TTL_SECONDS, GroupDirectory, TokenRules, caller_of, check_claims, issuer_of
from tests.unit.api_helpers import Api, create
from tests.unit.conftest import ADMIN, ALICE, BOB, id_token_claims

YEAR_2100 = 4102444800


@pytest.fixture
def api(aws_env):
    return Api(*aws_env)


def rules_of(settings) -> TokenRules:
    return TokenRules(issuer_of(settings.region, settings.user_pool_id), settings.user_pool_client_id)


def test_a_valid_id_token_names_its_person(aws_env):
    settings, _ = aws_env
    assert check_claims(id_token_claims(ALICE, settings), rules_of(settings)) == (ALICE["sub"], ALICE["email"])


@pytest.mark.parametrize(
    "changes",
    [
        {"token_use": "access"},  # an access token sent as the bearer
        {"token_use": "refresh"},  # the emulator's refresh tokens are JWTs too
        {"token_use": None},
        {"aud": "another-app-client"},
        {"aud": None},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_another"},
        {"exp": YEAR_2100},  # an `exp` attribute written into the token
        {"iat": YEAR_2100 - 3600, "exp": YEAR_2100},  # and its `iat` with it
        {"exp": "soon"},
        {"sub": BOB["sub"]},  # a `sub` attribute: another person's identity
        {"cognito:username": BOB["sub"]},
        {"sub": BOB["sub"], "cognito:username": None},
    ],
    ids=repr,
)
def test_claims_a_person_could_write_or_a_wrong_kind_of_token_are_refused(api, changes):
    claims = id_token_claims(ALICE, api.settings, **changes)
    with pytest.raises(errors.Unauthorized):
        check_claims(claims, rules_of(api.settings))
    status, body, _ = api("GET", "/images", claims=claims)
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_times_as_api_gateway_hands_them_over_on_aws_are_read(aws_env):
    """On AWS the REST API's Cognito authorizer passes `iat` and `exp` as dates, not numbers
    (tests/events/apigw_rest_proxy.json); the emulator passes numbers. Both are read."""
    settings, _ = aws_env
    now = time.time()
    as_dates = {
        name: time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(at))
        for name, at in (("iat", now - 60), ("exp", now + 3000))
    }
    assert check_claims(id_token_claims(ALICE, settings, **as_dates), rules_of(settings))[0] == ALICE["sub"]
    far = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(int(YEAR_2100)))
    with pytest.raises(errors.Unauthorized):
        check_claims(id_token_claims(ALICE, settings, iat=as_dates["iat"], exp=far), rules_of(settings))


def test_an_expired_token_is_refused_even_if_the_gateway_let_it_through(aws_env):
    settings, _ = aws_env
    old = id_token_claims(ALICE, settings, now=time.time() - 2 * 3600)
    with pytest.raises(errors.Unauthorized):
        check_claims(old, rules_of(settings))


def test_a_groups_claim_makes_nobody_an_admin(api):
    """Membership is asked of the user pool: ALICE's token claiming `admins` gets no admin rights,
    ADMIN's token without any groups claim keeps them."""
    bobs = create(api, claims=BOB)[1]["id"]
    alice_claims_admin = id_token_claims(ALICE, api.settings, **{"cognito:groups": "[admins]"})
    assert api("GET", "/images", query={"scope": "all"}, claims=alice_claims_admin)[0] == 403
    assert api("GET", f"/images/{bobs}", claims=alice_claims_admin)[0] == 404
    assert api("DELETE", f"/images/{bobs}", claims=alice_claims_admin)[0] == 404
    admin_without_claim = id_token_claims(ADMIN, api.settings)
    assert "cognito:groups" not in admin_without_claim
    assert api("GET", "/images", query={"scope": "all"}, claims=admin_without_claim)[0] == 200


class CountingCognito:
    """The pool's answers to AdminListGroupsForUser, counted."""

    def __init__(self, cognito):
        self.cognito, self.calls = cognito, 0

    def get_paginator(self, name):
        self.calls += 1
        return self.cognito.get_paginator(name)


def test_groups_are_asked_once_a_minute_and_only_when_they_matter(aws_env):
    settings, clients = aws_env
    now = [1000.0]
    cognito = CountingCognito(clients.cognito)
    directory = GroupDirectory(cognito, settings.user_pool_id, clock=lambda: now[0])
    caller = caller_of(id_token_claims(ADMIN, settings), rules_of(settings), directory)
    assert cognito.calls == 0  # a person's own gallery never asks
    assert caller.admin and caller.admin and cognito.calls == 1
    now[0] += GROUPS_TTL_SECONDS + 1
    clients.cognito.admin_remove_user_from_group(
        UserPoolId=settings.user_pool_id, Username=ADMIN["sub"], GroupName="admins"
    )
    assert not caller.admin and cognito.calls == 2  # removed from the group: no longer an admin


def test_a_user_pool_that_does_not_answer_is_a_503_not_a_500(aws_env):
    """AdminListGroupsForUser throttled (or the pool unreachable): the API says so, typed."""
    from botocore.stub import Stubber

    settings, clients = aws_env
    directory = GroupDirectory(clients.cognito, settings.user_pool_id)
    with Stubber(clients.cognito) as stub:
        stub.add_client_error("admin_list_groups_for_user", "TooManyRequestsException", "Rate exceeded", 400)
        with pytest.raises(errors.Unavailable) as refused:
            directory.groups(ADMIN["sub"])
    assert refused.value.status == 503 and "TooManyRequestsException" in str(refused.value)
