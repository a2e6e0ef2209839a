"""Cognito PreSignUp trigger for the local targets: sign-ups are confirmed at once.

On AWS the pool verifies the email address with a code instead (bootstrap attaches this
trigger only to the embedded and LocalStack pools, where no email can be sent).
"""

from __future__ import annotations


def handler(event, context):
    event.setdefault("response", {})
    event["response"]["autoConfirmUser"] = True
    event["response"]["autoVerifyEmail"] = True
    return event
