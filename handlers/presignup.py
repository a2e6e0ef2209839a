"""Cognito PreSignUp trigger for the local targets: sign-ups are confirmed at once, a sign-up that
writes any attribute but the person's email is refused, and a person whose account a crash of
the local stack lost gets their images back (handlers/relink.py).

On AWS the pool verifies the email address with a code instead (bootstrap attaches this
trigger only to the embedded and LocalStack pools, where no email can be sent), and the app
client's WriteAttributes refuse other attributes. Locally the trigger refuses them too: an
emulator may store what a person sends (`cognito:groups`, `exp`) and put it in their tokens.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache

from handlers.identity import WRITABLE_ATTRIBUTES

logger = logging.getLogger("imagepipe.presignup")

# The emulator's own: it puts the sub it made (or was sent) in the event.
MADE_BY_THE_POOL = {"sub", "email_verified"}


class SignUpRefused(Exception):
    """Raised to refuse: Cognito answers the sign-up with UserLambdaValidationException."""


@lru_cache(maxsize=1)
def _clients():
    import boto3

    return boto3.client("dynamodb"), boto3.client("cognito-idp")


def handler(event, context):
    attributes = (event.get("request") or {}).get("userAttributes") or {}
    extra = sorted(set(attributes) - set(WRITABLE_ATTRIBUTES) - MADE_BY_THE_POOL)
    if extra:
        raise SignUpRefused(f"Only an email address can be given at sign-up, not {', '.join(extra)}.")
    table, sub, email = os.environ.get("TABLE_NAME"), attributes.get("sub"), attributes.get("email")
    if table and sub and email:
        from handlers.relink import relink

        try:
            time_left = (lambda: context.get_remaining_time_in_millis() / 1000) if context else (lambda: 60.0)
            moved = relink(*_clients(), table, event["userPoolId"], email, sub, time_left)
            if moved:
                logger.warning("images of a lost account re-linked", extra={"images": moved})
        except Exception:  # a sign-up is never refused for this; the images stay where they were
            logger.exception("re-linking a lost account's images failed")
    event.setdefault("response", {})
    event["response"]["autoConfirmUser"] = True
    event["response"]["autoVerifyEmail"] = True
    return event
