"""User story: with a normal account I try to make myself an admin, to become another person, or
to keep a token forever, by writing attributes into my own account; and I send the tokens the
API should not take. None of it works, against the emulator over HTTP: its Cognito (with the
attribute check bootstrap/emulator.py installs) and API Gateway's authorizer in front of the API.
"""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

from tests.integration.test_accounts import claims_of, listed, upload_and_wait

pytestmark = pytest.mark.integration

YEAR_2100 = "4102444800"


def sign_in(stack, email: str, password: str) -> dict:
    return stack.cognito().initiate_auth(
        ClientId=stack.outputs["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )["AuthenticationResult"]


def as_bearer(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = token
    return session


def refusal_code(call) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"]


def test_a_sign_up_that_writes_groups_sub_or_expiry_is_refused(stack):
    stack.embedded_only("the emulator's Cognito stores any attribute; bootstrap/emulator.py refuses them")
    victim = stack.session_for("victim1@example.com")
    victim_sub = claims_of(victim.headers["Authorization"])["sub"]
    cognito, client_id = stack.cognito(), stack.outputs["userPoolClientId"]
    for attribute in (
        {"Name": "cognito:groups", "Value": "admins"},
        {"Name": "sub", "Value": victim_sub},  # it would have replaced the victim's account
        {"Name": "exp", "Value": YEAR_2100},
        {"Name": "custom:role", "Value": "admin"},
    ):
        code = refusal_code(
            lambda attribute=attribute: cognito.sign_up(
                ClientId=client_id,
                Username="mallory1@example.com",
                Password="a-long-enough-password",
                UserAttributes=[{"Name": "email", "Value": "mallory1@example.com"}, attribute],
            )
        )
        assert code == "NotAuthorizedException", (attribute, code)
    # The victim is untouched and still signs in as themselves.
    assert victim.get(f"{stack.api}/images").status_code == 200
    # A sign-up with the email alone works.
    cognito.sign_up(
        ClientId=client_id,
        Username="mallory1@example.com",
        Password="a-long-enough-password",
        UserAttributes=[{"Name": "email", "Value": "mallory1@example.com"}],
    )
    tokens = sign_in(stack, "mallory1@example.com", "a-long-enough-password")
    assert "cognito:groups" not in claims_of(tokens["IdToken"])


def test_an_update_of_groups_sub_or_expiry_is_refused_and_the_token_stays_what_it_was(stack):
    stack.embedded_only("the emulator's Cognito stores any attribute; bootstrap/emulator.py refuses them")
    alice = stack.session_for("victim2@example.com")
    hers = upload_and_wait(stack, alice, "hers.jpg")
    victim_sub = claims_of(alice.headers["Authorization"])["sub"]
    password = stack.create_user("mallory2@example.com")
    signed_in = sign_in(stack, "mallory2@example.com", password)
    access = signed_in["AccessToken"]
    cognito = stack.cognito()
    for name, value in (("cognito:groups", "admins"), ("sub", victim_sub), ("exp", YEAR_2100)):
        code = refusal_code(
            lambda name=name, value=value: cognito.update_user_attributes(
                AccessToken=access, UserAttributes=[{"Name": name, "Value": value}]
            )
        )
        assert code == "NotAuthorizedException", (name, code)
    mallory = as_bearer(sign_in(stack, "mallory2@example.com", password)["IdToken"])
    claims = claims_of(mallory.headers["Authorization"])
    assert "cognito:groups" not in claims and claims["sub"] != victim_sub
    assert int(claims["exp"]) - int(claims["iat"]) <= 3600
    assert mallory.get(f"{stack.api}/images", params={"scope": "all"}).status_code == 403
    for response in (mallory.get(f"{stack.api}/images/{hers}"), mallory.delete(f"{stack.api}/images/{hers}")):
        assert response.status_code == 404
    # Her email is what a person may write: it changes neither whose images are whose nor rights.
    cognito.update_user_attributes(
        AccessToken=access, UserAttributes=[{"Name": "email", "Value": "victim2@example.com"}]
    )
    refreshed = cognito.initiate_auth(
        ClientId=stack.outputs["userPoolClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]},
    )["AuthenticationResult"]["IdToken"]
    assert claims_of(refreshed)["email"] == "victim2@example.com"
    mallory = as_bearer(refreshed)
    assert mallory.get(f"{stack.api}/images/{hers}").status_code == 404
    assert hers not in listed(stack, mallory) and hers in listed(stack, alice)


def test_claims_that_reach_a_token_anyway_make_no_admin_and_no_other_person(stack):
    """Attributes the person cannot write, written by an operator (AdminUpdateUserAttributes): the
    emulator copies them into the ID token, and the API still believes none of them."""
    stack.embedded_only("the emulator copies stored attributes over its own claims")
    carol = stack.session_for("victim3@example.com")
    hers = upload_and_wait(stack, carol, "hers.jpg")
    victim_sub = claims_of(carol.headers["Authorization"])["sub"]
    password = stack.create_user("mallory3@example.com")
    cognito, pool = stack.cognito(), stack.outputs["userPoolId"]

    def token_with(name: str, value: str) -> str:
        cognito.admin_update_user_attributes(
            UserPoolId=pool, Username="mallory3@example.com", UserAttributes=[{"Name": name, "Value": value}]
        )
        token = sign_in(stack, "mallory3@example.com", password)["IdToken"]
        assert str(claims_of(token)[name]).strip("[]'\"") == value, "the emulator no longer copies it: rethink"
        return token

    admin_claim = as_bearer(token_with("cognito:groups", "admins"))
    assert admin_claim.get(f"{stack.api}/images", params={"scope": "all"}).status_code == 403
    assert admin_claim.get(f"{stack.api}/admin/health").status_code == 403  # the stack's health: admins only
    assert admin_claim.get(f"{stack.api}/images/{hers}").status_code == 404
    assert admin_claim.delete(f"{stack.api}/images/{hers}").status_code == 404
    for name, value in (("cognito:username", victim_sub), ("exp", YEAR_2100)):
        response = as_bearer(token_with(name, value)).get(f"{stack.api}/images/{hers}")
        assert response.status_code == 401, (name, response.text)
    # `sub` is immutable, for the operator too.
    code = refusal_code(
        lambda: cognito.admin_update_user_attributes(
            UserPoolId=pool, Username="mallory3@example.com", UserAttributes=[{"Name": "sub", "Value": victim_sub}]
        )
    )
    assert code == "NotAuthorizedException"
    assert carol.get(f"{stack.api}/images/{hers}").json()["status"] == "processed"  # untouched


def test_access_and_refresh_tokens_are_not_sign_ins(stack):
    stack.embedded_only("MiniStack's authorizer passes any token its pool signed")
    password = stack.create_user("mallory4@example.com")
    tokens = sign_in(stack, "mallory4@example.com", password)
    url = f"{stack.api}/images"
    assert as_bearer(tokens["IdToken"]).get(url).status_code == 200
    for kind in ("AccessToken", "RefreshToken"):
        response = as_bearer(tokens[kind]).get(url)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized", kind
    stack.cognito().revoke_token(Token=tokens["RefreshToken"], ClientId=stack.outputs["userPoolClientId"])
    assert as_bearer(tokens["RefreshToken"]).get(url).status_code == 401
