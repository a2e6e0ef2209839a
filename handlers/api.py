"""The API Lambda, behind API Gateway (REST, Lambda proxy integration).

Routing, CORS and preflight come from Powertools' APIGatewayRestResolver. Routes
parse and validate, call the records and S3, and raise `handlers.errors.ApiError`;
`_api_error` is the one place an error becomes a response. Every request is counted by its
route's template and its status (`handlers.telemetry`); `POST /uploads` gives the upload the
correlation id that names it in every function's log lines.
"""

from __future__ import annotations

import base64
import json
import re
import time
import unicodedata
import uuid
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from handlers import duplicates, errors, health, telemetry
from handlers.clients import Clients, make_clients
from handlers.config import DEAD_LETTER_RETENTION_SECONDS, EVENT_MAX_AGE_SECONDS, Settings
from handlers.formats import ACCEPTED_CONTENT_TYPES, FORMAT_FILES
from handlers.identity import Caller, GroupDirectory, TokenRules, caller_of, issuer_of
from handlers.keys import ID_PATTERN, rendition_keys, upload_key
from handlers.listing import InvalidCursor, day_of
from handlers.listing_request import LISTED_STATUSES, listing_request
from handlers.meter import Meter
from handlers.quotas import Quotas
from handlers.records import ImageRecords, now_iso
from handlers.schema import ImageRecord, Status
from handlers.signing import StableUrls
from handlers.similar_index import SimilarImages
from handlers.storage import delete_renditions, fit_filename, upload_metadata

logger = Logger(service="imagepipe-api")
meter = Meter(telemetry.API_SERVICE, logger)

MAX_FILENAME_CHARS = 200
# The only body is {"filename", "contentType", "size", "sha256"}: a 255-character file name (the usual
# file system limit), every character \u-escaped, is about 1.5 KiB. A bigger body is not a
# request this API makes; it is refused before it is parsed (deep nesting costs the parser).
MAX_BODY_BYTES = 4 * 1024
# Each route's template (what requests are counted by: never a path with an id), the paths it
# answers, and its methods, for telling 405 from 404 (Powertools answers 404 for both).
ROUTES = [
    ("/uploads", re.compile(r"^/uploads/?$"), {"POST"}),
    ("/images", re.compile(r"^/images/?$"), {"GET"}),
    ("/images/{id}", re.compile(r"^/images/[^/]+/?$"), {"GET", "DELETE"}),
    ("/admin/health", re.compile(r"^/admin/health/?$"), {"GET"}),
    ("/admin/counts", re.compile(r"^/admin/counts/?$"), {"GET"}),
]
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A correlation id travels in the upload's S3 metadata and is searched for as a log term.
_CORRELATION_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def route_of(method: str | None, path: str | None) -> str:
    """The route a request is counted under, as "<method> <template>" ("GET /images/{id}"), or
    "<method> other" for a path no route has: few values, whatever the client sends."""
    method = method if method in HTTP_METHODS else "OTHER"
    template = next((t for t, pattern, _ in ROUTES if pattern.match(path or "")), "other")
    return f"{method} {template}"


def correlation_id_of(event: APIGatewayProxyEvent) -> str:
    """An upload's correlation id: API Gateway's id of the request that made it, else a new one."""
    request_id = str((event.get("requestContext") or {}).get("requestId") or "")
    return request_id if _CORRELATION_ID.match(request_id) else str(uuid.uuid4())


def clean_filename(raw: str) -> str:
    """The user's file name as data: no control characters or path separators, capped."""
    name = unicodedata.normalize("NFC", raw)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"[\\/]+", "_", name).strip().strip(".")
    return name[:MAX_FILENAME_CHARS] or "image"


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


# Strict JSON (RFC 8259): NaN and Infinity are Python's extension, and no field takes them.
_JSON = json.JSONDecoder(parse_constant=_not_json)


def json_object(event: APIGatewayProxyEvent) -> dict:
    """The body as a JSON object, for every route that reads one: sized, then parsed."""
    body = event.body or ""
    # Measured as the bytes the client sent: decoded when API Gateway delivers the body
    # base64-encoded (a binary media type), so one body has one size either way.
    if not event.is_base64_encoded:
        raw = body.encode("utf-8", "surrogatepass")  # a lone surrogate then fails the UTF-8 decode below
    else:
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError:
            raise errors.InvalidRequest("The body is marked base64 but is not.") from None
    if len(raw) > MAX_BODY_BYTES:
        raise errors.BodyTooLarge(f"The body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}.")
    try:
        parsed = _JSON.decode(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # ValueError covers non-UTF-8 bytes; RecursionError, deep nesting
        raise errors.InvalidRequest("The body must be JSON.") from None
    if not isinstance(parsed, dict):
        raise errors.InvalidRequest("The body must be a JSON object.")
    return parsed


# How long a deleted image's tombstone outlives it: longer than any late delivery of its file's
# event (Lambda keeps an asynchronous event EVENT_MAX_AGE_SECONDS) and a dead-letter redrive (the
# queue keeps messages DEAD_LETTER_RETENTION_SECONDS), so a file posted again with its form is
# never brought back: 15 days.
TOMBSTONE_SECONDS = max(EVENT_MAX_AGE_SECONDS, DEAD_LETTER_RETENTION_SECONDS) + 24 * 3600


@dataclass(frozen=True)
class Api:
    """What every route works with: settings, clients and the repositories built on them."""

    settings: Settings
    clients: Clients
    records: ImageRecords
    quotas: Quotas
    urls: StableUrls
    token_rules: TokenRules
    directory: GroupDirectory

    @classmethod
    def build(cls, settings: Settings, clients: Clients) -> Api:
        return cls(
            settings,
            clients,
            ImageRecords(clients.dynamodb, settings.table_name),
            Quotas(clients.dynamodb, settings.table_name, settings.quota),
            StableUrls(clients.s3_public, min_valid_seconds=settings.rendition_url_seconds),
            TokenRules(issuer_of(settings.region, settings.user_pool_id), settings.user_pool_client_id),
            GroupDirectory(clients.cognito, settings.user_pool_id),
        )

    def caller(self, event: APIGatewayProxyEvent) -> Caller:
        """Who is asking, from the claims API Gateway's authorizer verified, checked again here."""
        return caller_of(event.request_context.authorizer.claims, self.token_rules, self.directory)

    def remove_renditions(self, keys: set[str]) -> None:
        delete_renditions(self.clients.s3, self.settings.processed_bucket, keys)

    def presign_get(self, bucket: str, key: str, content_type: str | None, disposition: str) -> str:
        # Signed at the start of the hour: the same image has the same URL all hour, so browsers
        # reuse the renditions they hold (stored immutable) instead of fetching them again.
        params = {"Bucket": bucket, "Key": key, "ResponseContentDisposition": disposition}
        if content_type:
            params["ResponseContentType"] = content_type
        return self.urls.get(params)

    def public_image(self, record: ImageRecord) -> dict:
        """An image as the API shows it: each rendition with its `sources` (modern first, the
        fallback last; records made before AVIF have the fallback only) and their URLs."""
        renditions = {}
        for name, r in (record.get("renditions") or {}).items():
            sources = [
                _public_fields(s)
                | {"url": self.presign_get(self.settings.processed_bucket, s["key"], s["contentType"], "inline")}
                for s in r.get("sources") or [r]
            ]
            renditions[name] = sources[-1] | {"sources": sources}
        # The original is what the processor found it to be, never what the uploader said: a
        # processed image only, named with its detected format's extension and served as that
        # format's type (a JPEG named photo.html downloads as photo.jpg, image/jpeg). A file that
        # failed, or is not judged yet, is offered to nobody: the page never shows it.
        original = None
        detected = FORMAT_FILES.get(record.get("format") or "")
        if record.get("status") == Status.PROCESSED and record.get("uploadKey") and detected:
            content_type, extension = detected
            filename = download_name(record.get("filename") or "", extension)
            original = {
                "url": self.presign_get(
                    self.settings.upload_bucket,
                    record["uploadKey"],
                    content_type,
                    f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
                )
            }
        return {
            "id": record["id"],
            "filename": record.get("filename", ""),
            "status": record.get("status", Status.PENDING),
            **{k: record.get(k) for k in ("contentType", "bytes", "width", "height", "format", "frames", "hasAlpha")},
            "owner": record.get("ownerEmail"),
            # The user pool's sub, what GET /images?owner= takes: only admins see others' images.
            "ownerId": record.get("owner"),
            "createdAt": record.get("createdAt"),
            "updatedAt": record.get("updatedAt"),
            "day": day_of(record),
            "placeholder": record.get("placeholder") or None,
            "dominantColor": record.get("dominantColor") or None,
            "facts": record.get("facts") or {},
            "renditions": renditions,
            "original": original,
            "error": record.get("error"),
            # A file with the same bytes as this image of its owner's, recorded instead of rendered.
            "duplicateOf": record.get("duplicateOf"),
            # The owner's processed images near this one (handlers/similar_index.py), both ways.
            "similarTo": record.get("similarTo") or [],
        }

    def find(self, image_id: str, caller: Caller) -> ImageRecord:
        """The image if the caller may see it: their own, or any for admins. Another person's
        image answers exactly as a missing one does (no existence leak)."""
        record = self.records.get(image_id) if ID_PATTERN.match(image_id) else None
        if (
            record is None
            or record["status"] == Status.DELETED
            or not (caller.admin or record.get("owner") == caller.sub)
        ):
            raise errors.NotFound(f"No image {image_id!r}.")
        return record


def _public_fields(source: dict) -> dict:
    return {k: source[k] for k in ("contentType", "width", "height", "bytes")}


# A name's extension: the last dot and up to 12 letters or digits after it ("photo.html", not the
# " Smith" of "Mr. Smith").
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,12}$")


def download_name(filename: str, extension: str) -> str:
    """The uploader's file name with its extension replaced by `extension` (added if it had none):
    photo.html -> photo.jpg, photo -> photo.jpg."""
    stem = _EXTENSION.sub("", filename).rstrip(". ") or "image"
    return stem + extension


def json_response(status: int, body) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def upload_request(body: dict, max_bytes: int) -> tuple[str, str, int, str | None]:
    """(filename, content type, size, declared SHA-256 or None) of a POST /uploads body, validated."""
    filename, content_type, size = body.get("filename"), body.get("contentType"), body.get("size")
    try:
        sha256 = duplicates.declared_sha256(body)
    except ValueError as exc:
        raise errors.InvalidRequest(str(exc)) from None
    if not isinstance(filename, str) or not filename:
        raise errors.InvalidRequest("'filename' must be a non-empty string.")
    if not isinstance(content_type, str) or not content_type:
        raise errors.InvalidRequest("'contentType' must be a string such as 'image/jpeg'.")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise errors.InvalidRequest("'size' must be a positive integer (bytes).")
    content_type = content_type.strip().lower()
    if content_type not in ACCEPTED_CONTENT_TYPES:
        raise errors.UnsupportedType(f"{content_type!r} is not accepted; send JPEG, PNG, WebP, GIF, AVIF or HEIC/HEIF.")
    if size > max_bytes:
        raise errors.TooLarge(f"The file is {size} bytes; the limit is {max_bytes}.")
    return filename, content_type, size, sha256


def create_upload(api: Api, event: APIGatewayProxyEvent) -> Response:
    settings, clients = api.settings, api.clients
    filename, content_type, size, sha256 = upload_request(json_object(event), settings.limits.max_bytes)
    filename = fit_filename(clean_filename(filename))  # as data: the record's and the file's alike
    caller = api.caller(event)
    # The caller's own image with these bytes: nothing to upload, nothing charged, no record. Only
    # theirs is looked at (the index's partition is the owner): no answer depends on anyone else's.
    existing = sha256 and duplicates.duplicate_of(clients.dynamodb, settings.table_name, caller.sub, sha256)
    if existing:
        logger.info("upload is a duplicate", extra={"image_id": existing})
        return json_response(200, {"duplicateOf": existing})
    try:
        api.quotas.charge(caller.sub, size)
    except errors.QuotaExceeded:  # 429
        meter.record(telemetry.QUOTA_REFUSALS, 1)
        raise
    image_id, correlation_id = uuid.uuid4().hex, correlation_id_of(event)
    # This request's lines name the image from here on (the next invocation starts clear).
    logger.append_keys(image_id=image_id, **{telemetry.CORRELATION_KEY: correlation_id})
    expires_at = int(time.time()) + settings.upload_expiry_seconds
    created_at = now_iso()
    # The file carries what its record needs to exist (S3 is the truth: a lost table is
    # rebuilt from the buckets), and its correlation id, bound exactly by the policy like
    # everything else in it: the browser cannot change them.
    metadata = upload_metadata(caller.sub, caller.email, filename, created_at, correlation_id, sha256)
    # The policy is the enforcement: exact key, exact type, short expiry, and exactly the
    # declared size, so the record's `bytes` is what arrives.
    post = clients.s3_public.generate_presigned_post(
        Bucket=settings.upload_bucket,
        Key=upload_key(image_id),
        Fields={"Content-Type": content_type, **metadata},
        Conditions=[
            {"Content-Type": content_type},
            ["content-length-range", size, size],
            *({name: value} for name, value in metadata.items()),
        ],
        ExpiresIn=settings.upload_expiry_seconds,
    )
    try:
        api.records.create_pending(
            image_id,
            filename,
            content_type,
            size,
            caller.sub,
            caller.email,
            expires_at=expires_at + settings.pending_ttl_seconds,
            created_at=created_at,
            correlation_id=correlation_id,
            sha256=sha256,
        )
    except Exception:
        api.quotas.refund(caller.sub, size)  # no image came of it
        raise
    logger.info("upload presigned", extra={"image_id": image_id, "content_type": content_type, "size": size})
    return json_response(
        201,
        {
            "id": image_id,
            "upload": {"url": post["url"], "fields": post["fields"]},
            "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at)),
            "maxBytes": settings.limits.max_bytes,
        },
    )


def list_images(api: Api, event: APIGatewayProxyEvent) -> Response:
    caller = api.caller(event)
    asked = listing_request(event.query_string_parameters)
    # A malformed request is a 400 whoever sends it; only a well-formed one is judged on rights.
    if asked.everyone and not caller.admin:
        raise errors.Forbidden("Only admins may list every user's images.")
    owner = asked.owner if asked.everyone else caller.sub
    try:
        items, next_cursor = api.records.list(asked.limit, asked.cursor, owner=owner, status=asked.status)
    except InvalidCursor as exc:
        raise errors.InvalidRequest(str(exc)) from None
    return json_response(200, {"items": [api.public_image(i) for i in items], "nextCursor": next_cursor})


def status_counts(api: Api, event: APIGatewayProxyEvent) -> Response:
    """Everyone's listed images by status, for admins only; each count capped (handlers.bounded)."""
    if not api.caller(event).admin:
        raise errors.Forbidden("Only admins may count every user's images.")
    counts = api.records.count_by_status(LISTED_STATUSES)
    return json_response(200, {status: {"count": n, "more": more} for status, (n, more) in counts.items()})


def get_image(api: Api, event: APIGatewayProxyEvent, image_id: str) -> Response:
    return json_response(200, api.public_image(api.find(image_id, api.caller(event))))


def delete_image(api: Api, event: APIGatewayProxyEvent, image_id: str) -> Response:
    caller = api.caller(event)
    record = api.find(image_id, caller)
    # Files first, so a failure leaves the record to delete again: the original (so a refusal
    # there leaves the image whole), its renditions; then the record, and any rendition the
    # processor finished in between (the deleted record still lists it). Renditions written
    # after this, the processor removes when it finds the record gone.
    api.clients.s3.delete_object(Bucket=api.settings.upload_bucket, Key=record.get("uploadKey") or upload_key(image_id))
    api.remove_renditions(rendition_keys(record))
    deleted = api.records.delete(
        image_id, None if caller.admin else caller.sub, tombstone_until=int(time.time()) + TOMBSTONE_SECONDS
    )
    if deleted is None:
        raise errors.NotFound(f"No image {image_id}.")
    api.remove_renditions(rendition_keys(deleted) - rendition_keys(record))
    SimilarImages.of(api.settings, api.clients).forget(deleted)  # its band items, and it from others' similarTo
    if deleted.get("owner"):  # the space is the owner's again, whoever deleted it
        api.quotas.refund(deleted["owner"], deleted.get("bytes", 0))
    logger.info("image deleted", extra={"image_id": image_id, "by_admin": caller.admin})
    return Response(status_code=204, content_type=None, body="")


def health_report(api: Api, event: APIGatewayProxyEvent) -> Response:
    """The stack's health (handlers/health.py), for admins only; read where this function writes its metrics."""
    if not api.caller(event).admin:
        raise errors.Forbidden("Only admins may see the stack's health.")
    return json_response(200, health.report(api.clients.cloudwatch, api.records, meter.namespace, now=time.time()))


def build_app(settings: Settings, clients: Clients) -> APIGatewayRestResolver:
    """The routes, CORS and the one error mapping, wired to this deployment's settings and clients."""
    api = Api.build(settings, clients)
    origins = list(settings.allowed_origins)
    cors = CORSConfig(
        allow_origin=origins[0], extra_origins=origins[1:], allow_headers=["Content-Type", "Authorization"], max_age=600
    )
    app = APIGatewayRestResolver(cors=cors)
    app.post("/uploads")(lambda: create_upload(api, app.current_event))
    app.get("/images")(lambda: list_images(api, app.current_event))
    app.get("/images/<image_id>")(lambda image_id: get_image(api, app.current_event, image_id))
    app.delete("/images/<image_id>")(lambda image_id: delete_image(api, app.current_event, image_id))
    app.get("/admin/health")(lambda: health_report(api, app.current_event))
    app.get("/admin/counts")(lambda: status_counts(api, app.current_event))

    @app.not_found
    def unknown_route(_: NotFoundError):
        path, method = app.current_event.path, app.current_event.http_method
        for _, pattern, methods in ROUTES:
            if pattern.match(path) and method not in methods:
                return _api_error(errors.MethodNotAllowed(f"{method} is not allowed on {path}."), allow=methods)
        return _api_error(errors.NotFound(f"No route {method} {path}."))

    @app.exception_handler(errors.ApiError)
    def api_error(exc: errors.ApiError):
        return _api_error(exc)

    @app.exception_handler(Exception)
    def unexpected(exc: Exception):
        logger.exception("unhandled error")
        return _api_error(errors.ApiError("Something went wrong on our side; try again."))

    return app


def _api_error(exc: errors.ApiError, allow: set[str] | None = None) -> Response:
    headers = {"Allow": ", ".join(sorted(allow))} if allow else None
    return Response(
        status_code=exc.status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(exc.body()),
        headers=headers,
    )


@lru_cache(maxsize=1)
def _app() -> APIGatewayRestResolver:
    # Built on the first request and kept for the life of the execution environment.
    settings = Settings.from_env()
    return build_app(settings, make_clients(settings, with_cognito=True, with_cloudwatch=True))


@logger.inject_lambda_context(clear_state=True)
@meter.log_metrics
def handler(event, context):
    started = time.perf_counter()
    response = _app().resolve(event, context)
    # Every answer is JSON or empty: no browser may take it for anything else.
    response.setdefault("multiValueHeaders", {})["X-Content-Type-Options"] = ["nosniff"]
    route = route_of(event.get("httpMethod"), event.get("path"))
    meter.record(telemetry.API_REQUESTS, 1, route=route, status=str(response.get("statusCode")))
    # One access line per request (no headers or query: the ID token travels in a header).
    logger.info(
        "request",
        extra={
            "method": event.get("httpMethod"),
            "path": event.get("path"),
            "status": response.get("statusCode"),
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return response
