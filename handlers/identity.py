"""Who is asking: the API's own checks of the ID token API Gateway's authorizer verified.

API Gateway checks the token's signature, issuer and expiry, and accepts any token the pool
signed: ID, access, even (in the embedded emulator) refresh tokens. Its claims are only as
good as the issuer: the emulator lets a person write attributes into their own ID token
(`cognito:groups`, `sub`, `exp`). So the API believes a claim only where nothing the user
can write could have made it:

- the token is an ID token (`token_use`) for this stack's app client (`aud`) and pool (`iss`),
  issued in the past and valid no longer than the app client issues them (`iat`, `exp`);
- the identity is `sub`, and it must equal `cognito:username`: email is the pool's username
  attribute on every target, so Cognito makes the username the sub, and neither can change;
- group membership is asked of the user pool (AdminListGroupsForUser), never read from the
  `cognito:groups` claim; only when it matters (an admin's scope, another person's image),
  and remembered for a minute per execution environment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from handlers import errors

# The app client's ID token validity (bootstrap configures the client with it); a token that
# claims to live longer was not issued as configured.
ID_TOKEN_MINUTES = 60
CLOCK_SKEW_SECONDS = 300
ADMINS_GROUP = "admins"
# The attributes a person may write on their own account (the app client's WriteAttributes;
# the local pools' PreSignUp trigger refuses any other at sign-up).
WRITABLE_ATTRIBUTES = ("email",)
# How long a person's groups are remembered: removing an admin takes effect within this.
GROUPS_TTL_SECONDS = 60
GROUPS_CACHE_MAX = 10_000


def issuer_of(region: str, pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


@dataclass(frozen=True)
class TokenRules:
    issuer: str
    client_id: str
    max_lifetime_seconds: int = ID_TOKEN_MINUTES * 60


class GroupDirectory:
    """A person's groups as the user pool holds them, remembered for GROUPS_TTL_SECONDS."""

    def __init__(self, cognito, pool_id: str, clock: Callable[[], float] = time.monotonic):
        self._cognito, self._pool_id, self._clock = cognito, pool_id, clock
        self._seen: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def groups(self, username: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            seen = self._seen.get(username)
        if seen and now - seen[0] < GROUPS_TTL_SECONDS:
            return seen[1]
        pages = self._cognito.get_paginator("admin_list_groups_for_user").paginate(
            UserPoolId=self._pool_id, Username=username, PaginationConfig={"MaxItems": 100}
        )
        try:
            groups = frozenset(g["GroupName"] for page in pages for g in page["Groups"])
        except (ClientError, BotoCoreError) as exc:  # throttled, or the pool unreachable: say so, not 500
            code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
            raise errors.Unavailable(
                f"The user pool did not answer ({code or type(exc).__name__}); try again."
            ) from None
        with self._lock:
            if len(self._seen) >= GROUPS_CACHE_MAX:
                self._seen.clear()  # bounded: the next minute asks the pool again
            self._seen[username] = (now, groups)
        return groups


@dataclass(frozen=True)
class Caller:
    """A person the API has checked. `admin` asks the user pool, once, when first needed."""

    sub: str
    email: str | None
    _groups: Callable[[], frozenset[str]] = field(repr=False, compare=False, default=frozenset)

    @property
    def admin(self) -> bool:
        return ADMINS_GROUP in self._groups()


# API Gateway's Cognito authorizer hands time claims over as strings: on AWS as dates
# ("Sat Nov 28 07:00:00 UTC 2026"), in the emulator (and the devserver) as epoch seconds.
AWS_CLAIM_TIME = "%a %b %d %H:%M:%S %Z %Y"


def _time_claim(claims: dict, name: str) -> int:
    """A time claim in epoch seconds, from either form."""
    raw = str(claims.get(name, "")).strip()
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return int(datetime.strptime(raw, AWS_CLAIM_TIME).replace(tzinfo=UTC).timestamp())
    except ValueError:
        raise errors.Unauthorized(f"The token's {name!r} is not a time.") from None


def check_claims(claims: dict | None, rules: TokenRules, now: float | None = None) -> tuple[str, str | None]:
    """(sub, email) of a token whose claims hold, else Unauthorized saying which did not."""
    if not claims or not claims.get("sub"):  # only reachable if a route were deployed without the authorizer
        raise errors.Unauthorized("Sign in first: this API needs a valid ID token in the Authorization header.")
    if claims.get("token_use") != "id":
        raise errors.Unauthorized("Send the ID token of your sign-in, not an access or refresh token.")
    if claims.get("iss") != rules.issuer or claims.get("aud") != rules.client_id:
        raise errors.Unauthorized("The token was not issued to this site.")
    now = time.time() if now is None else now
    issued, expires = _time_claim(claims, "iat"), _time_claim(claims, "exp")
    if issued > now + CLOCK_SKEW_SECONDS or expires <= now or expires - issued > rules.max_lifetime_seconds:
        raise errors.Unauthorized("The token's lifetime is not one this site issues; sign in again.")
    if claims.get("cognito:username") != claims["sub"]:
        raise errors.Unauthorized("The token's identity does not hold together; sign in again.")
    return claims["sub"], claims.get("email") or None


def caller_of(claims: dict | None, rules: TokenRules, directory: GroupDirectory) -> Caller:
    sub, email = check_claims(claims, rules)
    return Caller(sub, email, lambda: directory.groups(sub))
