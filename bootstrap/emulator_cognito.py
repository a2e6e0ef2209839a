"""The embedded emulator's Cognito, made to refuse what AWS refuses: a person writing an
attribute their app client may not write.

MiniStack (1.5.x) stores every attribute a SignUp or UpdateUserAttributes sends, and copies
them into the person's ID token over the claims it set itself: a sign-up with a
`cognito:groups` attribute made an admin's token, an update of `sub` took over another
person's identity, one of `exp` made a token valid until 2100. AWS refuses each with
NotAuthorizedException ("A client attempted to write unauthorized attribute"): `sub` is
immutable, and a public client writes only its app client's WriteAttributes (or, when the
client names none, the pool's standard and custom attributes). This module installs that
check in front of MiniStack's dispatcher, in the emulator's own process
(bootstrap/emulator.py). The API does not rely on it (handlers/identity.py checks what it
trusts), but the person's account should not hold attributes they may not write.
"""

from __future__ import annotations

# Actions in which a person (not an operator) writes their own attributes; and the operator's,
# which may write any mutable attribute, never `sub`.
SELF_SERVICE = {"SignUp", "UpdateUserAttributes"}
ADMIN_WRITES = {"AdminUpdateUserAttributes", "AdminCreateUser"}
IMMUTABLE = {"sub"}
REFUSAL = ("NotAuthorizedException", "A client attempted to write unauthorized attribute")


def may_write(name: str, client: dict, standard: set[str]) -> bool:
    """Whether a person may write this attribute through this app client."""
    if name in IMMUTABLE:
        return False
    named = client.get("WriteAttributes") or []
    if named:
        return name in named
    return name in standard or name.startswith("custom:")


def _names(data: dict) -> list[str]:
    return [str(a.get("Name", "")) for a in data.get("UserAttributes") or [] if isinstance(a, dict)]


def install() -> None:
    """Wrap MiniStack's Cognito dispatcher with the check (idempotent)."""
    from ministack.services import cognito

    if getattr(cognito._dispatch_idp, "_imagepipe_guard", False):
        return
    dispatch = cognito._dispatch_idp
    standard = set(cognito._STANDARD_ATTRIBUTES_BY_NAME)

    def client_of(action: str, data: dict) -> dict | None:
        if action == "SignUp":
            client_id = data.get("ClientId") or ""
        else:  # UpdateUserAttributes: the access token names its client
            client_id = cognito._token_claims(data.get("AccessToken") or "").get("client_id") or ""
        return cognito._find_pool_by_client_id(client_id)[2] if client_id else None

    async def guarded(action: str, data: dict):
        names = _names(data) if isinstance(data, dict) else []
        client = client_of(action, data) if action in SELF_SERVICE and names else None
        if client is not None:  # an unknown client or token: MiniStack refuses the request itself
            bad = [name for name in names if not may_write(name, client, standard)]
            if bad:
                return cognito.error_response_json(REFUSAL[0], f"{REFUSAL[1]}: {', '.join(sorted(bad))}", 400)
        if action in ADMIN_WRITES and IMMUTABLE & set(names):
            return cognito.error_response_json(REFUSAL[0], f"{REFUSAL[1]}: sub", 400)
        return await dispatch(action, data)

    guarded._imagepipe_guard = True
    cognito._dispatch_idp = guarded
