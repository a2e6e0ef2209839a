"""The embedded emulator's root key, made a key: whoever signs as root must know its secret.

MiniStack (1.5.x) takes `test`, an empty key, any 12-digit account id and its configured
AWS_ACCESS_KEY_ID as the account's root, and with AUTH=true it checks the signatures of IAM user
and STS session keys only: `iam_evaluator.pin_signed_request` pins a request for the signature
check unless its key is a root key, and `caller_verified` says "root keys are not checked". So
anyone who reached the port signed as root with the public `test`/`test` (or any account id),
whatever secret the emulator was given. install(), in the emulator's own process
(bootstrap/emulator.py), makes a root request's signature checked as any other's, against the
configured secret (AWS_SECRET_ACCESS_KEY: the stack's own, bootstrap/local.py): `test`/`test`
is then refused with SignatureDoesNotMatch. Which key is root, and its account, do not change
(`is_root_access_key`), so the stack's saved state stays its own.

It also closes MiniStack's admin endpoints, which answer anyone: `POST /_ministack/reset` wipes
every service, `GET /_ministack/sqs/messages` reads every queue (the dead letters name every
upload), `/_ministack/config` changes settings, `/_ministack/lambda-code/` serves the functions'
code. Only health and readiness stay open (start_emulator waits on the first). A web page could
otherwise reach them too: a POST with no custom header needs no CORS preflight.
"""

from __future__ import annotations

import json

OPEN_ADMIN_PATHS = frozenset({"/_ministack/health", "/_ministack/ready"})


def install() -> None:
    """Check root signatures and close the admin endpoints (idempotent)."""
    from ministack import app as ministack_app
    from ministack.core import iam_evaluator

    # Only MiniStack's signature-check shortcuts ask this (pin_signed_request, caller_verified,
    # and the caller identity shown to IAM-authorized API Gateway methods); what a key resolves
    # to, root included, is is_root_access_key's, unchanged.
    iam_evaluator._is_root_key = lambda access_key_id: False

    serve = ministack_app.app
    if getattr(serve, "_imagepipe_guard", False):
        return

    async def guarded(scope, receive, send):
        path = scope.get("path", "")
        if scope.get("type") == "http" and path.startswith("/_ministack/") and path not in OPEN_ADMIN_PATHS:
            body = json.dumps(
                {"__type": "AccessDeniedException", "message": "MiniStack's admin endpoints are closed here"}
            ).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await serve(scope, receive, send)

    guarded._imagepipe_guard = True
    ministack_app.app = guarded  # main() serves the module's `app`, looked up when it runs
