"""User story: another user of my machine, or a web page I visit, can reach the emulator's port,
but not my stack. MiniStack's root key is public (`test`/`test`; it also takes any 12-digit
account id as a root key) and it checks no root signature by itself: the embedded emulator of
each stack runs with a key of its own, made on its first start and kept in its state dir
(`make credentials` prints it), and checks every root signature against that key's secret
(bootstrap/emulator_auth.py). Whoever signs with anything else is refused: no list of the
accounts' emails, no photo read or deleted; and MiniStack's admin endpoints, which ask for no
signature at all, are closed."""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

from tests.images import phone_jpeg
from tests.stack import local_client

pytestmark = pytest.mark.integration

# What an attacker signs with: MiniStack's documented default, and an account id as the key (root
# in MiniStack's eyes: the stack's own account, or another) with the default secret.
PUBLIC_KEYS = [("test", "test"), ("000000000000", "test"), ("123456789012", "test")]


def attempts(stack) -> dict:
    """One read of each store that holds something of someone's: the originals, the records, the accounts."""
    outputs = stack.outputs
    return {
        "s3": lambda s3: s3.list_objects_v2(Bucket=outputs["uploadBucket"], Prefix="uploads/"),
        "dynamodb": lambda dynamodb: dynamodb.scan(TableName=outputs["table"]),
        "cognito-idp": lambda cognito: cognito.list_users(UserPoolId=outputs["userPoolId"]),
    }


def refused(call) -> str:
    """The error code a refused call answered; fails if it was answered."""
    with pytest.raises(ClientError) as refusal:
        call()
    status = refusal.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert status in (400, 403), refusal.value.response
    return refusal.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def photo(stack) -> dict:
    """Something worth stealing: a processed photo of the signed-in tester."""
    stack.embedded_only("LocalStack takes any key by design")
    created = stack.upload(phone_jpeg(320, 240), "private.jpg", "image/jpeg")
    assert stack.wait_final(created["id"])["status"] == "processed"
    return created


@pytest.mark.parametrize("key", PUBLIC_KEYS, ids=lambda k: f"{k[0]}/{k[1]}")
def test_the_emulators_public_default_key_lists_no_photo_no_record_and_no_account(stack, photo, key):
    for service, read in attempts(stack).items():
        code = refused(lambda: read(local_client(service, stack.endpoint, key)))  # noqa: B023
        assert code in {"SignatureDoesNotMatch", "InvalidSignatureException", "UnrecognizedClientException"}, (
            service,
            code,
        )


def test_the_stacks_own_key_id_with_a_guessed_secret_is_refused(stack, photo):
    """The key id alone is no secret (it is in every request): the signature is checked."""
    own_key, _ = stack.credentials
    for service, read in attempts(stack).items():
        refused(lambda: read(local_client(service, stack.endpoint, (own_key, "test"))))  # noqa: B023


def test_the_stacks_own_key_reads_what_the_public_key_may_not(stack, photo):
    """The control: the same calls, signed with the stack's key, answer, and hold the photo."""
    reads = {service: read(stack.client(service)) for service, read in attempts(stack).items()}
    assert f"uploads/{photo['id']}" in [o["Key"] for o in reads["s3"]["Contents"]]
    assert photo["id"] in [item["id"]["S"] for item in reads["dynamodb"]["Items"]]
    assert reads["cognito-idp"]["Users"], "the pool has the tester"
    assert stack.credentials != ("test", "test")


def test_a_link_signed_with_the_public_key_neither_reads_nor_deletes_a_photo(stack, photo):
    bucket, key = stack.outputs["uploadBucket"], f"uploads/{photo['id']}"
    attacker = local_client("s3", stack.endpoint, ("test", "test"))
    url = attacker.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    response = requests.get(url, timeout=30)
    assert response.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in response.content
    refused(lambda: attacker.delete_object(Bucket=bucket, Key=key))
    refused(
        lambda: local_client("dynamodb", stack.endpoint, ("test", "test")).delete_table(
            TableName=stack.outputs["table"]
        )
    )
    assert stack.s3().head_object(Bucket=bucket, Key=key)["ContentLength"] > 0  # still there
    assert stack.image(photo["id"])["status"] == "processed"


def test_nobody_wipes_the_stack_or_reads_its_queues_through_the_emulators_admin_endpoints(stack, photo):
    """`POST /_ministack/reset` would wipe every service and `/_ministack/sqs/messages` read the
    dead letters, unsigned, even from a web page (a plain POST needs no CORS preflight)."""
    for method, path in (("POST", "reset"), ("GET", "sqs/messages"), ("POST", "config"), ("GET", "ses/messages")):
        response = requests.request(method, f"{stack.endpoint}/_ministack/{path}", data=b"{}", timeout=30)
        assert response.status_code == 403, (path, response.status_code, response.text[:200])
    assert requests.get(f"{stack.endpoint}/_ministack/health", timeout=30).ok  # what start_emulator waits on
    assert stack.image(photo["id"])["status"] == "processed"
