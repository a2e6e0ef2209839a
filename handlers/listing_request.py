"""What a `GET /images` asks for, read from its query string and checked: whose images (the caller's,
or everyone's), of which status and which owner (everyone's only), how many, from which cursor.

Pure: a malformed request is an `errors.InvalidRequest` whoever sends it; whether the caller may
ask it (everyone's: admins only) is the route's to judge, after this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers import errors
from handlers.schema import DEFAULT_PAGE, MAX_PAGE, Status

PARAMETERS = frozenset({"limit", "cursor", "scope", "status", "owner"})
# The statuses a listing is filtered by, as the API shows them (a tombstone is never shown).
LISTED_STATUSES = tuple(s for s in Status if s is not Status.DELETED)
# An owner is a user pool's sub (a UUID on AWS): a shape, before it names a partition to DynamoDB.
_OWNER = re.compile(r"^[A-Za-z0-9-]{1,128}$")


@dataclass(frozen=True)
class ListingRequest:
    everyone: bool  # scope=all
    limit: int
    cursor: str | None
    status: Status | None
    owner: str | None  # a user pool sub; with everyone only


def listing_request(query: dict[str, str] | None) -> ListingRequest:
    query = query or {}
    unknown = set(query) - PARAMETERS
    if unknown:
        raise errors.InvalidRequest(f"Unknown query parameter(s): {', '.join(sorted(unknown))}.")
    scope = query.get("scope", "mine")
    if scope not in ("mine", "all"):
        raise errors.InvalidRequest("'scope' must be 'mine' or 'all'.")
    raw_limit = query.get("limit", str(DEFAULT_PAGE))
    if not re.fullmatch(r"\d{1,3}", raw_limit or "") or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise errors.InvalidRequest(f"'limit' must be an integer from 1 to {MAX_PAGE}.")
    status = query.get("status")
    if status is not None and status not in LISTED_STATUSES:
        raise errors.InvalidRequest(f"'status' must be one of {', '.join(LISTED_STATUSES)}.")
    owner = query.get("owner")
    if owner is not None and (scope != "all" or not _OWNER.match(owner)):
        raise errors.InvalidRequest("'owner' goes with scope=all and is a user's id (an image's ownerId).")
    return ListingRequest(
        everyone=scope == "all",
        limit=int(raw_limit),
        cursor=query.get("cursor") or None,
        status=Status(status) if status is not None else None,
        owner=owner,
    )
