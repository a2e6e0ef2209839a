"""What the API's unit tests share: handlers/api.py's app called as API Gateway calls it, on moto."""

from __future__ import annotations

import json

from handlers.api import build_app
from handlers.records import ImageRecords
from tests.unit.conftest import ALICE, id_token_claims, rest_event


class Api:
    def __init__(self, settings, clients):
        self.app = build_app(settings, clients)
        self.settings, self.clients = settings, clients

    def __call__(self, method, path, body=None, query=None, headers=None, claims=ALICE):
        """A request from `claims`' person with a valid ID token (None: no claims at all)."""
        if claims is not None and set(claims) <= {"sub", "email"}:  # a person, not a token
            claims = id_token_claims(claims, self.settings)
        return self.resolve(rest_event(method, path, body, query, headers, claims))

    def resolve(self, event):
        response = self.app.resolve(event, {})
        body = response.get("body")
        parsed = json.loads(body) if body else None
        headers = {k: ", ".join(v) for k, v in (response.get("multiValueHeaders") or {}).items()}
        return response["statusCode"], parsed, headers | (response.get("headers") or {})


def create(api, claims=ALICE, **overrides):
    body = {"filename": "photo.jpg", "contentType": "image/jpeg", "size": 1000} | overrides
    return api("POST", "/uploads", body, claims=claims)


def arrive(api, image_id: str) -> None:
    """What the processor does when an upload's file arrives: the image joins the gallery."""
    records = ImageRecords(api.clients.dynamodb, api.settings.table_name)
    records.start_processing(image_id, f"uploads/{image_id}", "etag", 1000, "x.jpg", {})
