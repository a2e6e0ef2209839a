"""Flask dev shim: the static site plus `/config.json`, as S3 website hosting would serve them.

The page calls the API URL from config.json directly, as it does on AWS. With
`local_api=True` (`make up API=local`) the devserver also serves the API handler
in-process under /api, translating each request into an API Gateway proxy event and
back, so a change to handlers/ shows on the next request (with Flask's reloader).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, jsonify, request, send_from_directory

from bootstrap.site import page_headers

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


def outputs_file() -> Path:
    return Path(os.environ.get("IMAGEPIPE_STATE_DIR", ROOT / ".stack")) / "outputs.json"


def read_outputs() -> dict | None:
    try:
        return json.loads(outputs_file().read_text())
    except (OSError, ValueError):
        return None


def handler_environment(outputs: dict) -> dict:
    """The deployed API function's environment, exactly (deploy records it in the outputs), and
    what the Lambda runtime adds to it: the region, and locally the endpoint and the stack's key."""
    env = dict(outputs["apiEnvironment"])
    env |= {"AWS_REGION": outputs["region"], "AWS_DEFAULT_REGION": outputs["region"]}
    if outputs.get("endpointUrl"):
        from bootstrap.outputs import local_credentials  # here: the container has not all of bootstrap/

        env["AWS_ENDPOINT_URL"] = outputs["endpointUrl"]
        credentials = local_credentials(outputs.get("target", "embedded"))  # the stack's key (state dir)
        if credentials:
            env |= dict(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), credentials, strict=True))
    return env


def create_app(local_api: bool = False) -> Flask:
    app = Flask(__name__, static_folder=None)

    @app.get("/config.json")
    def config():
        # Read on each request: a redeploy is picked up without restarting the devserver.
        outputs = read_outputs()
        if outputs is None or "siteConfig" not in outputs:
            return jsonify(error={"code": "not_deployed", "message": "No stack deployed yet: run `make up`."}), 503
        # bootstrap writes the page's configuration (the one source for every target); only what
        # is local to this devserver is changed here.
        site = dict(outputs["siteConfig"])
        if local_api:
            site["apiUrl"] = request.host_url.rstrip("/") + "/api"
        if os.environ.get("GALLERY_PAGE_SIZE"):
            site["pageSize"] = int(os.environ["GALLERY_PAGE_SIZE"])
        return jsonify(site)

    @app.get("/healthz")
    def health():
        return {"ok": True, "localApi": local_api}

    @app.get("/")
    def index():
        return send_from_directory(FRONTEND, "index.html")

    @app.get("/<path:name>")
    def static_file(name: str):
        return send_from_directory(FRONTEND, name)

    if local_api:
        _mount_local_api(app)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Cache-Control", "no-store")
        # The page's CSP and the rest, from the last deploy's outputs (re-read, as config.json
        # is): the same function gives CloudFront's on AWS.
        for name, value in page_headers(read_outputs()).items():
            response.headers.setdefault(name, value)
        return response

    return app


def _mount_local_api(app: Flask) -> None:
    outputs = read_outputs()
    if outputs is None:
        raise RuntimeError(f"{outputs_file()} is missing: deploy the stack first")
    os.environ.update(handler_environment(outputs))
    from devserver.apigw import CognitoAuthorizer, LambdaContext, to_flask_response, to_proxy_event, unauthorized
    from handlers import api  # imported here, after the environment is set

    authorizer = CognitoAuthorizer(outputs["region"], outputs["userPoolId"], outputs.get("endpointUrl"))

    def serve(path: str = ""):
        claims = None
        if request.method != "OPTIONS":  # preflights carry no token, as on the deployed API
            claims = authorizer.claims(request.headers.get("Authorization"))
            if claims is None:
                return unauthorized(request)
        return to_flask_response(api.handler(to_proxy_event(request, "/" + path, claims), LambdaContext()))

    app.add_url_rule("/api", "api_root", serve, methods=ALL_METHODS)
    app.add_url_rule("/api/<path:path>", "api", serve, methods=ALL_METHODS)
