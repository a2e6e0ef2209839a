"""The functions' settings: each declared once, in SETTINGS (its variable, default, meaning and
bounds), and read once from the environment into a frozen dataclass.

Deploy passes the ones chosen at deploy time from its own environment to both functions
(bootstrap/__main__.py), and docs/configuration.md's tables are checked against SETTINGS
(tests/unit/test_docs.py). Plain data: bootstrap and the tests read it without boto3.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from handlers.formats import MIB, Limits, RenditionSpec

GIB = 1024 * MIB
MAX_UPLOAD_EXPIRY_SECONDS = 15 * 60  # a presigned POST never lives longer than this
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live

# How the processor's S3 events are delivered: deploy configures Lambda and the dead-letter queue
# with these, and the processor's attempts and the API's tombstones are derived from them.
PROCESSOR_RETRIES = 2  # Lambda's asynchronous retries of an event, before the dead-letter queue
EVENT_MAX_AGE_SECONDS = 6 * 3600  # how long Lambda keeps an asynchronous event
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # how long the queue keeps what it was given

# API Gateway closes a WebSocket after 2 hours at most: a live-status connection's record expires
# (DynamoDB's TTL) this long after it opened, in case its $disconnect was never told.
LIVE_CONNECTION_SECONDS = 2 * 3600

# Near duplicates (handlers/similar_index.py, docs/duplicates.md), bounded whatever a gallery holds:
# the most images one image's `similarTo` lists (the nearest first; one more is not linked), and the
# band items one of a new photo's BANDS Queries reads (its Limit: 200 items of ~100 bytes, 5 read
# units strongly consistent).
SIMILAR_TO_MAX = 20
SIMILAR_BAND_READ = 200


@dataclass(frozen=True)
class Quota:
    """Per person: uploads per UTC day and bytes stored (handlers.quotas charges them)."""

    uploads_per_day: int
    bytes: int


def _origins(text: str) -> tuple[str, ...]:
    return tuple(origin.strip() for origin in text.split(",") if origin.strip())


@dataclass(frozen=True)
class Setting:
    """One environment variable the functions read, and where Settings keeps its value."""

    attribute: str  # a field of Settings, or a field of one of its parts ("limits.max_pixels")
    variable: str
    default: object  # in the attribute's unit
    meaning: str  # docs/configuration.md says exactly this
    bounds: tuple[int, int | None] | None = None  # an integer within lo..hi (hi None: no upper one)
    parse: Callable[[str], object] = str  # how text that is not an integer is read
    unit: int = 1  # the attribute counts bytes where the variable counts MiB
    fallback: str | None = None  # read when the variable is unset
    # True: you choose it, and deploy passes it from its own environment to both functions;
    # False: deploy or the Lambda runtime sets it.
    chosen_at_deploy: bool = True

    def read(self, env: Mapping[str, str]) -> object:
        """The value `env` gives; an unset or empty variable (or one that says nothing) is the default."""
        raw = env.get(self.variable) or (env.get(self.fallback) if self.fallback else None)
        if not raw:
            return self.default
        if self.bounds is None:
            return self.parse(raw) or self.default
        value, (lo, hi) = int(raw), self.bounds
        if value < lo or (hi is not None and value > hi):
            raise ValueError(f"{self.variable}={value} is outside {lo}..{hi}")
        return value * self.unit


_SPEC = RenditionSpec()  # the rendition spec's defaults are declared with it (handlers.formats)

SETTINGS: tuple[Setting, ...] = (
    # Chosen at deploy time.
    Setting(
        "limits.max_bytes",
        "MAX_UPLOAD_BYTES",
        Limits.max_bytes,
        "largest upload: in the POST policy, and checked by the processor",
        bounds=(1, None),
    ),
    Setting(
        "limits.max_pixels",
        "MAX_PIXELS",
        Limits.max_pixels,
        "largest image, on the size the decoder really produces, checked from headers before decoding",
        bounds=(1, None),
    ),
    Setting(
        "limits.max_decode_bytes",
        "MAX_DECODE_MB",
        Limits.max_decode_bytes,
        "the decode budget: peak memory estimated before decoding; the processor's memory is this + 512 MB",
        bounds=(1, None),
        unit=MIB,
    ),
    Setting(
        "upload_expiry_seconds",
        "UPLOAD_EXPIRY_SECONDS",
        300,
        "how long a presigned POST lives",
        bounds=(1, MAX_UPLOAD_EXPIRY_SECONDS),
    ),
    Setting(
        "rendition_url_seconds",
        "RENDITION_URL_SECONDS",
        900,
        "how long a presigned GET stays valid at least (signed at the start of the hour, it lives up to an hour more)",
        bounds=(1, MAX_PRESIGNED_SECONDS),
    ),
    Setting(
        "renditions.sizes",
        "RENDITION_SIZES",
        _SPEC.sizes,
        "the renditions: name=longest side (16..4096 px), 1 to 8 of them; a change takes effect "
        "at the next deploy, then `make reprocess`",
        parse=RenditionSpec.parse_sizes,
    ),
    Setting(
        "renditions.avif_quality",
        "AVIF_QUALITY",
        _SPEC.avif_quality,
        "quality of each rendition's AVIF",
        bounds=(1, 100),
    ),
    Setting(
        "renditions.avif_speed",
        "AVIF_SPEED",
        _SPEC.avif_speed,
        "libaom's speed for the AVIFs (9 is the fastest that keeps its bytes)",
        bounds=(0, 10),
    ),
    Setting(
        "renditions.jpeg_quality",
        "JPEG_QUALITY",
        _SPEC.jpeg_quality,
        "quality of the JPEG fallback (opaque sources)",
        bounds=(1, 95),
    ),
    Setting(
        "renditions.webp_quality",
        "WEBP_QUALITY",
        _SPEC.webp_quality,
        "quality of the WebP fallback (sources with transparency)",
        bounds=(1, 100),
    ),
    Setting(
        "quota.uploads_per_day",
        "QUOTA_UPLOADS_PER_DAY",
        200,
        "each person's uploads per UTC day",
        bounds=(0, None),
    ),
    Setting(
        "quota.bytes",
        "QUOTA_BYTES",
        2 * GIB,
        "each person's bytes stored",
        bounds=(0, None),
    ),
    Setting(
        "live_connections_per_person",
        "LIVE_CONNECTIONS_PER_PERSON",
        5,
        "each person's open live-status connections (the page's WebSockets, one a tab); one more is refused",
        bounds=(1, 100),
    ),
    Setting(
        "pending_ttl_seconds",
        "PENDING_TTL_SECONDS",
        24 * 3600,
        "how long DynamoDB's TTL keeps the record of an upload that never arrived (a backstop: "
        "the sweep removes it an hour after its form expired)",
        bounds=(1, None),
    ),
    Setting(
        "stuck_after_seconds",
        "STUCK_AFTER_SECONDS",
        15 * 60,
        "age after which the sweep re-drives a `pending` or `processing` record",
        bounds=(1, None),
    ),
    Setting(
        "fault_injection",
        "FAULT_INJECTION",
        None,
        "`rendition_put_once` or `rendition_put_always`: rendition uploads fail, for the recovery tests",
    ),
    Setting(
        "public_s3_endpoint",
        "PUBLIC_S3_ENDPOINT",
        None,
        "where browsers reach S3, when it differs from `AWS_ENDPOINT_URL`",
    ),
    # Set by deploy or by the Lambda runtime.
    Setting(
        "upload_bucket",
        "UPLOAD_BUCKET",
        "",
        "the bucket of originals (deploy sets it)",
        chosen_at_deploy=False,
    ),
    Setting(
        "processed_bucket",
        "PROCESSED_BUCKET",
        "",
        "the bucket of renditions and manifests (deploy sets it)",
        chosen_at_deploy=False,
    ),
    Setting(
        "table_name",
        "TABLE_NAME",
        "",
        "the images table (deploy sets it)",
        chosen_at_deploy=False,
    ),
    Setting(
        "event_bus_name",
        "EVENT_BUS_NAME",
        "",
        "the stack's EventBridge bus, where the events function sends image events (deploy sets it)",
        chosen_at_deploy=False,
    ),
    Setting(
        "connections_table",
        "CONNECTIONS_TABLE",
        "",
        "the live status's table of open WebSocket connections (deploy sets it)",
        chosen_at_deploy=False,
    ),
    Setting(
        "similar_table",
        "SIMILAR_TABLE",
        "",
        "the near-duplicate band index: a table of band keys and image ids (deploy sets it)",
        chosen_at_deploy=False,
    ),
    Setting(
        "live_callback_url",
        "LIVE_CALLBACK_URL",
        "",
        "where the live function posts to the WebSocket API's connections (deploy sets it)",
        chosen_at_deploy=False,
    ),
    Setting(
        "user_pool_id",
        "USER_POOL_ID",
        "",
        "the user pool whose ID tokens the API accepts (deploy sets it)",
        chosen_at_deploy=False,
    ),
    Setting(
        "user_pool_client_id",
        "USER_POOL_CLIENT_ID",
        "",
        "the app client whose ID tokens the API accepts (deploy sets it)",
        chosen_at_deploy=False,
    ),
    Setting(
        "allowed_origins",
        "ALLOWED_ORIGINS",
        ("*",),
        "CORS origins, comma-separated (deploy sets them from its own `ALLOWED_ORIGINS` or `SITE_URL`)",
        parse=_origins,
        chosen_at_deploy=False,
    ),
    Setting(
        "region",
        "AWS_REGION",
        "us-east-1",
        "the region, else `AWS_DEFAULT_REGION` (the Lambda runtime sets both)",
        fallback="AWS_DEFAULT_REGION",
        chosen_at_deploy=False,
    ),
    Setting(
        "endpoint_url",
        "AWS_ENDPOINT_URL",
        None,
        "the emulator, which sets it in its functions; unset on AWS",
        chosen_at_deploy=False,
    ),
    Setting(
        "function_name",
        "AWS_LAMBDA_FUNCTION_NAME",
        "",
        "the function's own name (the Lambda runtime sets it); the sweep invokes it",
        chosen_at_deploy=False,
    ),
)

_PARTS = {"limits": Limits, "renditions": RenditionSpec, "quota": Quota}


def _nested(values: Mapping[str, object]) -> dict[str, object]:
    """{"table_name": t, "limits.max_pixels": p, ...} -> {"table_name": t, "limits": Limits(max_pixels=p, ...)}"""
    fields: dict[str, object] = {}
    parts: dict[str, dict[str, object]] = {}
    for attribute, value in values.items():
        part, _, name = attribute.rpartition(".")
        if part:
            parts.setdefault(part, {})[name] = value
        else:
            fields[name] = value
    return fields | {part: _PARTS[part](**given) for part, given in parts.items()}


_DEFAULTS = _nested({setting.attribute: setting.default for setting in SETTINGS})


@dataclass(frozen=True)
class Settings:
    """What the functions are configured with: each field's meaning and default are its declaration's
    (SETTINGS, whose attribute names it)."""

    upload_bucket: str = _DEFAULTS["upload_bucket"]
    processed_bucket: str = _DEFAULTS["processed_bucket"]
    table_name: str = _DEFAULTS["table_name"]
    event_bus_name: str = _DEFAULTS["event_bus_name"]
    connections_table: str = _DEFAULTS["connections_table"]
    similar_table: str = _DEFAULTS["similar_table"]
    live_callback_url: str = _DEFAULTS["live_callback_url"]
    live_connections_per_person: int = _DEFAULTS["live_connections_per_person"]
    region: str = _DEFAULTS["region"]
    endpoint_url: str | None = _DEFAULTS["endpoint_url"]
    public_s3_endpoint: str | None = _DEFAULTS["public_s3_endpoint"]
    allowed_origins: tuple[str, ...] = _DEFAULTS["allowed_origins"]
    upload_expiry_seconds: int = _DEFAULTS["upload_expiry_seconds"]
    rendition_url_seconds: int = _DEFAULTS["rendition_url_seconds"]
    pending_ttl_seconds: int = _DEFAULTS["pending_ttl_seconds"]
    stuck_after_seconds: int = _DEFAULTS["stuck_after_seconds"]
    fault_injection: str | None = _DEFAULTS["fault_injection"]
    user_pool_id: str = _DEFAULTS["user_pool_id"]
    user_pool_client_id: str = _DEFAULTS["user_pool_client_id"]
    function_name: str = _DEFAULTS["function_name"]
    limits: Limits = _DEFAULTS["limits"]
    renditions: RenditionSpec = _DEFAULTS["renditions"]
    quota: Quota = _DEFAULTS["quota"]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(**_nested({setting.attribute: setting.read(env) for setting in SETTINGS}))


def setting_named(variable: str) -> Setting:
    """The declaration of `variable` (KeyError if the functions read no such variable)."""
    return {setting.variable: setting for setting in SETTINGS}[variable]
