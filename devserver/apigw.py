"""API Gateway's REST proxy integration, in-process: a Flask request in, a proxy event out,
the handler's result back into a Flask response. Used by `make up API=local`.

The Cognito authorizer is played too: the token's RS256 signature against the pool's JWKS,
its issuer and expiry, then its claims in `requestContext.authorizer.claims` as strings,
the way API Gateway passes them; a bad token gets API Gateway's 401.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
from flask import Request, Response

from bootstrap.deploy.config import STAGE
from handlers.id_tokens import jwks_url


class CognitoAuthorizer:
    """Verifies ID tokens of one user pool as API Gateway's COGNITO_USER_POOLS authorizer does."""

    def __init__(self, region: str, pool_id: str, endpoint: str | None):
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        # Locally the emulator serves the pool's keys; the issuer still names AWS, as in its tokens.
        self._keys = jwt.PyJWKClient(jwks_url(region, pool_id, endpoint))

    def claims(self, authorization: str | None) -> dict | None:
        token = (authorization or "").strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if not token:
            return None
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
            )
        except jwt.PyJWTError:
            return None
        # As API Gateway passes them: strings; a list as "[a b]".
        return {k: ("[" + " ".join(map(str, v)) + "]" if isinstance(v, list) else str(v)) for k, v in claims.items()}


def unauthorized(request: Request) -> Response:
    """API Gateway's UNAUTHORIZED gateway response, as bootstrap configures it."""
    body = json.dumps({"error": {"code": "unauthorized", "message": "Unauthorized"}})
    response = Response(body, status=401, content_type="application/json")
    if request.headers.get("Origin"):
        response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
        response.headers["Vary"] = "Origin"
    return response


def to_proxy_event(request: Request, path: str, claims: dict | None = None) -> dict:
    """The event API Gateway's `ANY /{proxy+}` resource would send for this request."""
    body = request.get_data()
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    headers = {k: v for k, v in request.headers.items()}
    multi_query = {k: request.args.getlist(k) for k in request.args}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": {k: request.headers.getlist(k) for k in request.headers.keys()},
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")} if path != "/" else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": request.method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": request.remote_addr or "127.0.0.1"},
            "authorizer": {"claims": claims} if claims else None,
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


def to_flask_response(result: dict) -> Response:
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    response = Response(data, status=result.get("statusCode", 200))
    response.headers.clear()
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, value)
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = value
    # API Gateway answers application/json when the integration names no Content-Type.
    response.headers.setdefault("Content-Type", "application/json")
    return response


class LambdaContext:
    """The fields of Lambda's context object that the handlers (and Powertools) read."""

    function_name = "imagepipe-api-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:imagepipe-api-local"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/imagepipe-api-local"
    log_stream_name = "local"

    def __init__(self):
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 15_000
