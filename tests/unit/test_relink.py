"""handlers/relink.py and the local PreSignUp trigger: a lost account's images go to the person who
signs up again with its email, never another living person's; a sign-up that writes anything
but an email is refused."""

from __future__ import annotations

import pytest

from handlers import presignup
from handlers.records import ImageRecords
from handlers.relink import relink
from tests.unit.conftest import ALICE

LOST_SUB = "10571057-0000-4000-8000-000000000009"  # no user of the pool has it
NEW_SUB = "ee00ee00-0000-4000-8000-00000000000e"


def image(records, image_id: str, owner: str, email: str) -> None:
    records.create_pending(image_id, "p.jpg", "image/jpeg", 10, owner, email, 2**31)


def owners(records, *ids) -> list[str]:
    return [records.get(i)["owner"] for i in ids]


def test_a_lost_account_s_images_go_to_the_new_account_with_its_email(aws_env):
    settings, clients = aws_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    lost, living, other = "a" * 32, "b" * 32, "c" * 32
    image(records, lost, LOST_SUB, "carol@example.com")
    image(records, living, ALICE["sub"], "carol@example.com")  # Alice once had that email: still hers
    image(records, other, LOST_SUB, "dave@example.com")
    moved = relink(
        clients.dynamodb, clients.cognito, settings.table_name, settings.user_pool_id, "carol@example.com", NEW_SUB
    )
    assert moved == 1
    assert owners(records, lost, living, other) == [NEW_SUB, ALICE["sub"], LOST_SUB]
    # Again: nothing left to move.
    assert (
        relink(
            clients.dynamodb, clients.cognito, settings.table_name, settings.user_pool_id, "carol@example.com", NEW_SUB
        )
        == 0
    )


def sign_up_event(settings, **attributes) -> dict:
    return {
        "userPoolId": settings.user_pool_id,
        "userName": attributes.get("sub", NEW_SUB),
        "request": {"userAttributes": {"sub": NEW_SUB, **attributes}},
        "response": {},
    }


def test_the_trigger_confirms_and_re_links(aws_env, monkeypatch):
    settings, clients = aws_env
    monkeypatch.setenv("TABLE_NAME", settings.table_name)
    monkeypatch.setattr(presignup, "_clients", lambda: (clients.dynamodb, clients.cognito))
    records = ImageRecords(clients.dynamodb, settings.table_name)
    image(records, "d" * 32, LOST_SUB, "erin@example.com")
    answered = presignup.handler(sign_up_event(settings, email="erin@example.com"), None)
    assert answered["response"] == {"autoConfirmUser": True, "autoVerifyEmail": True}
    assert owners(records, "d" * 32) == [NEW_SUB]


@pytest.mark.parametrize("attribute", ["cognito:groups", "exp", "custom:role", "name"])
def test_the_trigger_refuses_any_attribute_but_the_email(aws_env, attribute):
    settings, _ = aws_env
    with pytest.raises(presignup.SignUpRefused):
        presignup.handler(sign_up_event(settings, email="x@example.com", **{attribute: "admins"}), None)
