"""An ID token checked in full by the function itself, where no Cognito authorizer stands in front
(the WebSocket handshake: docs/security.md#live-status): its RS256 signature against the pool's
JWKS, issuer, audience (the app client), `token_use` = id and expiry, then the very claim rules
the API applies (`handlers.identity.check_claims`: never a claim a user can write).

The token is never logged, nor put in an error's message.
"""

from __future__ import annotations

from collections.abc import Callable

import jwt

from handlers import errors
from handlers.identity import TokenRules, check_claims, issuer_of

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "token_use"]


def jwks_url(region: str, pool_id: str, endpoint: str | None) -> str:
    """Where the pool's signing keys are: on AWS under its issuer; locally the emulator serves them
    under the pool's id (its tokens' issuer still names AWS)."""
    if endpoint:
        return f"{endpoint.rstrip('/')}/{pool_id}/.well-known/jwks.json"
    return f"{issuer_of(region, pool_id)}/.well-known/jwks.json"


class IdTokenVerifier:
    """Checks ID tokens of one pool's app client. `signing_key(token)`: the public key the token's
    header names (by default from the pool's JWKS, fetched once and kept, refetched for a new kid)."""

    def __init__(self, rules: TokenRules, signing_key: Callable[[str], object]):
        self.rules = rules
        self._signing_key = signing_key

    @classmethod
    def for_pool(cls, region: str, pool_id: str, client_id: str, endpoint: str | None) -> IdTokenVerifier:
        keys = jwt.PyJWKClient(jwks_url(region, pool_id, endpoint), cache_keys=True, lifespan=3600, timeout=5)
        return cls(TokenRules(issuer_of(region, pool_id), client_id), lambda t: keys.get_signing_key_from_jwt(t).key)

    def claims(self, token: str | None) -> dict:
        """The claims of a token that holds; else Unauthorized (Unavailable if the keys cannot be had)."""
        if not token:
            raise errors.Unauthorized("Sign in first: the token is missing.")
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=["RS256"],
                issuer=self.rules.issuer,
                audience=self.rules.client_id,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWKClientConnectionError:
            raise errors.Unavailable("The user pool's signing keys could not be read; try again.") from None
        except (jwt.PyJWTError, ValueError):
            raise errors.Unauthorized("The token is not one this site's user pool signed, or it has expired.") from None
        check_claims(claims, self.rules)  # token_use, lifetime, identity: as the API checks them
        return claims
