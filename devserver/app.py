"""Flask dev shim: the static site plus `/config.json`, as S3 website hosting would serve them.

The page calls the API URL from config.json directly, as it does on AWS.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, jsonify, send_from_directory

ROOT = Path(__file__).resolve().parent.parent
FRONTEND = ROOT / "frontend"


def outputs_file() -> Path:
    return Path(os.environ.get("IMAGEPIPE_STATE_DIR", ROOT / ".stack")) / "outputs.json"


def create_app() -> Flask:
    app = Flask(__name__, static_folder=None)

    @app.get("/config.json")
    def config():
        # Read on each request: a redeploy is picked up without restarting the devserver.
        try:
            outputs = json.loads(outputs_file().read_text())
        except (OSError, ValueError):
            return jsonify(error={"code": "not_deployed", "message": "No stack deployed yet: run `make up`."}), 503
        return jsonify(
            apiUrl=outputs["apiUrl"],
            maxBytes=outputs.get("maxUploadBytes", 25 * 1024 * 1024),
            pageSize=int(os.environ.get("GALLERY_PAGE_SIZE", "24")),
            acceptedTypes=["image/jpeg", "image/png", "image/webp", "image/gif", "image/avif", "image/heic",
                           "image/heif"],
        )

    @app.get("/healthz")
    def health():
        return {"ok": True}

    @app.get("/")
    def index():
        return send_from_directory(FRONTEND, "index.html")

    @app.get("/<path:name>")
    def static_file(name: str):
        return send_from_directory(FRONTEND, name)

    @app.after_request
    def no_cache(response):
        response.headers["Cache-Control"] = "no-store"
        return response

    return app
