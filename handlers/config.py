"""Configuration from environment variables, read once into a frozen dataclass."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from handlers.formats import MIB, Limits, RenditionSpec
from handlers.quotas import Quota

GIB = 1024 * MIB
MAX_UPLOAD_EXPIRY_SECONDS = 15 * 60  # a presigned POST never lives longer than this

# How the processor's S3 events are delivered: deploy configures Lambda and the dead-letter queue
# with these, and the processor's attempts and the API's tombstones are derived from them.
PROCESSOR_RETRIES = 2  # Lambda's asynchronous retries of an event, before the dead-letter queue
EVENT_MAX_AGE_SECONDS = 6 * 3600  # how long Lambda keeps an asynchronous event
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # how long the queue keeps what it was given


def _int(env: dict, name: str, default: int, lo: int = 1, hi: int | None = None) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    value = int(raw)
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name}={value} is outside {lo}..{hi}")
    return value


@dataclass(frozen=True)
class Settings:
    upload_bucket: str = ""
    processed_bucket: str = ""
    table_name: str = ""
    region: str = "us-east-1"
    endpoint_url: str | None = None  # AWS_ENDPOINT_URL: an emulator; None on AWS
    public_s3_endpoint: str | None = None  # where browsers reach S3, if not endpoint_url
    allowed_origins: tuple[str, ...] = ("*",)
    upload_expiry_seconds: int = 300
    rendition_url_seconds: int = 900
    pending_ttl_seconds: int = 24 * 3600
    # The sweep re-drives records left `pending` (object uploaded, event lost) or
    # `processing` (execution killed) for longer than this.
    stuck_after_seconds: int = 15 * 60
    fault_injection: str | None = None
    # The user pool and app client whose ID tokens the API accepts (deploy sets them).
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    function_name: str = ""  # this function's own name (the Lambda runtime sets it); the sweep invokes it
    limits: Limits = field(default_factory=Limits)
    renditions: RenditionSpec = field(default_factory=RenditionSpec)
    # Per person: uploads per UTC day and bytes stored (QUOTA_UPLOADS_PER_DAY, QUOTA_BYTES).
    quota: Quota = field(default_factory=lambda: Quota(uploads_per_day=200, bytes=2 * GIB))

    @classmethod
    def from_env(cls, env: dict | None = None) -> Settings:
        env = os.environ if env is None else env
        origins = tuple(o.strip() for o in env.get("ALLOWED_ORIGINS", "*").split(",") if o.strip())
        return cls(
            upload_bucket=env.get("UPLOAD_BUCKET", ""),
            processed_bucket=env.get("PROCESSED_BUCKET", ""),
            table_name=env.get("TABLE_NAME", ""),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            public_s3_endpoint=env.get("PUBLIC_S3_ENDPOINT") or None,
            allowed_origins=origins or ("*",),
            upload_expiry_seconds=_int(env, "UPLOAD_EXPIRY_SECONDS", 300, hi=MAX_UPLOAD_EXPIRY_SECONDS),
            rendition_url_seconds=_int(env, "RENDITION_URL_SECONDS", 900, hi=7 * 24 * 3600),
            pending_ttl_seconds=_int(env, "PENDING_TTL_SECONDS", 24 * 3600),
            stuck_after_seconds=_int(env, "STUCK_AFTER_SECONDS", 15 * 60),
            fault_injection=env.get("FAULT_INJECTION") or None,
            user_pool_id=env.get("USER_POOL_ID", ""),
            user_pool_client_id=env.get("USER_POOL_CLIENT_ID", ""),
            function_name=env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
            quota=Quota(
                uploads_per_day=_int(env, "QUOTA_UPLOADS_PER_DAY", 200, lo=0),
                bytes=_int(env, "QUOTA_BYTES", 2 * GIB, lo=0),
            ),
            renditions=_rendition_spec(env),
            limits=Limits(
                max_pixels=_int(env, "MAX_PIXELS", Limits.max_pixels),
                max_bytes=_int(env, "MAX_UPLOAD_BYTES", 25 * MIB),
                max_decode_bytes=_int(env, "MAX_DECODE_MB", Limits.max_decode_bytes // MIB) * MIB,
            ),
        )


def _rendition_spec(env: dict) -> RenditionSpec:
    default = RenditionSpec()
    sizes = env.get("RENDITION_SIZES")
    return RenditionSpec(
        sizes=RenditionSpec.parse_sizes(sizes) if sizes else default.sizes,
        avif_quality=_int(env, "AVIF_QUALITY", default.avif_quality, hi=100),
        avif_speed=_int(env, "AVIF_SPEED", default.avif_speed, lo=0, hi=10),
        jpeg_quality=_int(env, "JPEG_QUALITY", default.jpeg_quality, hi=95),
        webp_quality=_int(env, "WEBP_QUALITY", default.webp_quality, hi=100),
    )
