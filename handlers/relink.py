"""A person whose account a crash of the local stack lost gets their images back when they sign up
again with the same email (local pools only: on AWS the user pool is never lost this way).

Their images kept their owner's old `sub` (records rebuilt from the files' metadata carry it),
which the new account does not get: Cognito makes a new one. At sign-up (the local pools'
PreSignUp trigger) the records whose owner email is the person's, and whose owner is no longer
a user of the pool, are given to the new `sub`. A sub that still belongs to a user is never
taken over, whatever email its images carry.
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import ClientError

from handlers.schema import Status

# Bounded: the local stack's table is small; a scan reads at most this many pages (1 MB each),
# and stops while the trigger has this much time left (Cognito waits for it: 5 s at most).
MAX_SCAN_PAGES = 50
RESERVE_SECONDS = 1.5


def orphaned_images(
    dynamodb, table: str, email: str, new_sub: str, time_left: Callable[[], float] = lambda: 60.0
) -> dict[str, list[str]]:
    """{old owner sub: [image ids]} of the records carrying this owner email under another sub.
    Stops early (with what it found) when `time_left()` seconds run short: a sign-up waits."""
    found: dict[str, list[str]] = {}
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="ownerEmail = :email AND #o <> :new AND #s <> :deleted",
        ProjectionExpression="id, #o",
        ExpressionAttributeNames={"#o": "owner", "#s": "status"},
        ExpressionAttributeValues={":email": {"S": email}, ":new": {"S": new_sub}, ":deleted": {"S": Status.DELETED}},
        PaginationConfig={"PageSize": 1000},
    )
    for number, page in enumerate(pages):
        if number >= MAX_SCAN_PAGES or time_left() < RESERVE_SECONDS:
            break
        for item in page.get("Items", []):
            found.setdefault(item["owner"]["S"], []).append(item["id"]["S"])
    return found


def is_user(cognito, pool_id: str, sub: str) -> bool:
    try:
        cognito.admin_get_user(UserPoolId=pool_id, Username=sub)  # email usernames: the username is the sub
    except cognito.exceptions.UserNotFoundException:
        return False
    return True


def relink(
    dynamodb,
    cognito,
    table: str,
    pool_id: str,
    email: str,
    new_sub: str,
    time_left: Callable[[], float] = lambda: 60.0,
) -> int:
    """Give the lost account's images to the new one; returns how many were re-linked."""
    moved = 0
    for old_sub, image_ids in orphaned_images(dynamodb, table, email, new_sub, time_left).items():
        if is_user(cognito, pool_id, old_sub):
            continue  # another person's, or a person who changed their email: theirs
        for image_id in image_ids:
            try:
                dynamodb.update_item(
                    TableName=table,
                    Key={"id": {"S": image_id}},
                    UpdateExpression="SET #o = :new",
                    ConditionExpression="#o = :old",
                    ExpressionAttributeNames={"#o": "owner"},
                    ExpressionAttributeValues={":new": {"S": new_sub}, ":old": {"S": old_sub}},
                )
                moved += 1
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
    return moved
