"""User story: I sign in and see my own gallery; nobody else sees or deletes my photos, except
the admins who moderate; a token that is not a valid one of this pool gets nothing; my
quota holds even when I send many requests at once. Against the emulator, over HTTP: its
Cognito user pool, and API Gateway's Cognito authorizer verifying signatures for real.
"""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.images import encode, photo

pytestmark = pytest.mark.integration


def upload_and_wait(stack, session, name: str) -> str:
    data = encode(photo(120, 90), "JPEG")
    created = session.post(
        f"{stack.api}/uploads", json={"filename": name, "contentType": "image/jpeg", "size": len(data)}
    )
    assert created.status_code == 201, created.text
    image_id = created.json()["id"]
    assert stack.post_file(created.json()["upload"], data, "image/jpeg").status_code in (200, 204)
    assert stack.wait_final(image_id, session=session)["status"] == "processed"
    return image_id


def listed(stack, session, **params) -> list[str]:
    response = session.get(f"{stack.api}/images", params={"limit": 100} | params)
    assert response.status_code == 200, response.text
    return [i["id"] for i in response.json()["items"]]


def test_each_person_sees_and_deletes_only_their_own_images(stack):
    alice, bob = stack.session_for("alice@example.com"), stack.session_for("bob@example.com")
    mine = upload_and_wait(stack, alice, "alice.jpg")
    assert mine in listed(stack, alice) and mine not in listed(stack, bob)
    image = alice.get(f"{stack.api}/images/{mine}").json()
    assert image["owner"] == "alice@example.com"
    # Another person's image answers exactly as a missing one: no existence leak.
    missing = bob.get(f"{stack.api}/images/{'0' * 32}")
    for response in (bob.get(f"{stack.api}/images/{mine}"), bob.delete(f"{stack.api}/images/{mine}")):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        assert response.json()["error"]["message"].replace(mine, "0" * 32) == missing.json()["error"]["message"]
    assert alice.get(f"{stack.api}/images/{mine}").json()["status"] == "processed"  # untouched
    assert bob.get(f"{stack.api}/images", params={"scope": "all"}).status_code == 403
    assert alice.delete(f"{stack.api}/images/{mine}").status_code == 204  # no other token needed
    assert mine not in listed(stack, alice)


def test_admins_see_every_image_and_may_delete_any(stack):
    carol = stack.session_for("carol@example.com")
    hers = upload_and_wait(stack, carol, "carol.jpg")
    assert hers in listed(stack, stack.admin, scope="all")
    assert hers not in listed(stack, stack.admin)  # the admin's own gallery is their own
    assert stack.admin.get(f"{stack.api}/images/{hers}").json()["owner"] == "carol@example.com"
    assert stack.admin.delete(f"{stack.api}/images/{hers}").status_code == 204  # moderation
    assert carol.get(f"{stack.api}/images/{hers}").status_code == 404


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def with_claims(token: str, **changes) -> str:
    """The token with its claims changed and its signature kept: a forgery."""
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims_of(token) | changes).encode()).decode().rstrip("=")
    return f"{header}.{payload}.{signature}"


def test_forged_expired_and_other_pool_tokens_are_refused(stack):
    stack.embedded_only("MiniStack's authorizer verifies signatures with cryptography in its environment")
    url = f"{stack.api}/images"
    token = stack.http.headers["Authorization"]
    assert requests.get(url, headers={"Authorization": token}).status_code == 200
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200

    cognito = stack.cognito()
    # A token that expired: from a client of the same pool whose ID tokens live one second.
    short = cognito.create_user_pool_client(
        UserPoolId=stack.outputs["userPoolId"],
        ClientName="short-lived",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        IdTokenValidity=1,
        TokenValidityUnits={"IdToken": "seconds"},
    )["UserPoolClient"]["ClientId"]
    password = stack.create_user("dave@example.com")
    expired = cognito.initiate_auth(
        ClientId=short,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "dave@example.com", "PASSWORD": password},
    )["AuthenticationResult"]["IdToken"]
    assert claims_of(expired)["exp"] - claims_of(expired)["iat"] <= 1, "the emulator did not honour the validity"
    # A token of another pool: signed by Cognito, but not for this API.
    other = cognito.create_user_pool(PoolName="somebody-elses", UsernameAttributes=["email"])["UserPool"]["Id"]
    try:
        client = cognito.create_user_pool_client(
            UserPoolId=other, ClientName="x", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )
        client_id = client["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=other, Username="eve@example.com", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=other, Username="eve@example.com", Password="Eve-Password-1", Permanent=True
        )
        foreign = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "eve@example.com", "PASSWORD": "Eve-Password-1"},
        )["AuthenticationResult"]["IdToken"]
    finally:
        cognito.delete_user_pool(UserPoolId=other)
    time.sleep(2)  # the short-lived token is past its expiry now
    refused = {
        "no token": None,
        "not a token": "hello",
        "forged claims": with_claims(token, sub="somebody-else", **{"cognito:groups": ["admins"]}),
        "forged signature": token[:-8] + ("A" * 8 if not token.endswith("A" * 8) else "B" * 8),
        "expired": expired,
        "another pool": foreign,
    }
    for why, bad in refused.items():
        response = requests.get(url, headers={"Authorization": bad} if bad else {})
        assert response.status_code == 401, (why, response.status_code, response.text)
        assert response.json()["error"]["code"] == "unauthorized", why
    # The page on another origin can read the refusal (CORS on API Gateway's own 401).
    response = requests.get(url, headers={"Origin": stack.site_url})
    assert response.headers.get("Access-Control-Allow-Origin") == stack.site_url


def test_parallel_uploads_at_the_edge_of_the_daily_quota_admit_exactly_the_quota(stack):
    with stack.function_env("api", QUOTA_UPLOADS_PER_DAY="4"):
        frank = stack.session_for("frank@example.com")

        def ask(i: int) -> requests.Response:
            return frank.post(
                f"{stack.api}/uploads", json={"filename": f"{i}.jpg", "contentType": "image/jpeg", "size": 1000}
            )

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(8)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 4 + [429] * 4, [a.text for a in answers]
    refusal = next(a for a in answers if a.status_code == 429).json()["error"]
    assert refusal["code"] == "quota_exceeded" and refusal["resetsAt"].endswith("T00:00:00Z")


def test_stored_bytes_are_a_quota_and_deleting_frees_them(stack):
    with stack.function_env("api", QUOTA_BYTES="2500"):
        grace = stack.session_for("grace@example.com")

        def ask(size: int) -> requests.Response:
            return grace.post(
                f"{stack.api}/uploads", json={"filename": "x.jpg", "contentType": "image/jpeg", "size": size}
            )

        first, second = ask(1000), ask(1000)
        assert (first.status_code, second.status_code) == (201, 201)
        full = ask(1000)
        assert full.status_code == 429 and full.json()["error"]["resetsAt"] is None
        # The owner deletes an upload (its file never sent): its bytes are free again.
        assert grace.delete(f"{stack.api}/images/{first.json()['id']}").status_code == 204
        assert ask(1000).status_code == 201
