"""The stack's configuration: names of every resource, sizes, and the target it goes to."""

from __future__ import annotations

from dataclasses import dataclass, field

import boto3

from handlers.config import MIB, Settings
from handlers.formats import Limits

STAGE = "v1"
RUNTIME = "python3.12"
# The API answers in milliseconds once warm. Its timeout is API Gateway's own wait for an
# integration (29 s): a shorter one only turns a slow cold start (imports, on a busy machine)
# into a 5xx the gateway would have waited for (the CI burst of fifty on two cores did).
API_MEMORY_MB, API_TIMEOUT_S = 512, 29
# The events function turns a batch of the table's changes into PutEvents calls: small and quick.
EVENTS_MEMORY_MB, EVENTS_TIMEOUT_S = 256, 30
# The live function checks a token on a handshake and posts an event to a few connections.
LIVE_MEMORY_MB, LIVE_TIMEOUT_S = 256, 15
# The processor's memory is its decode budget (handlers.formats.Limits.max_decode_bytes, checked
# before any pixel is allocated) plus its baseline (60 MiB measured by `make bench`: Python, boto3,
# Powertools, Pillow and its codecs; the Lambda runtime's own share; the upload's bytes in memory
# twice, up to 2 x 25 MiB), plus a margin; `make bench` shows the worst input within limits against
# it. Lambda's CPU grows with memory too.
PROCESSOR_BASELINE_MB, PROCESSOR_MARGIN_MB = 256, 256
# Decoding the worst input within limits takes a few seconds (`make bench`); the timeout leaves
# room for slow S3 and for a cold start, and bounds what a bomb the checks missed can cost.
PROCESSOR_TIMEOUT_S = 60


def processor_memory_mb(limits: Limits) -> int:
    needed = PROCESSOR_BASELINE_MB + limits.max_decode_bytes // MIB + PROCESSOR_MARGIN_MB
    return -(-needed // 64) * 64  # Lambda takes any MB from 128; rounded for a readable number


def function_roles(cfg: StackConfig) -> tuple[str, ...]:
    """The functions deploy makes, each with its own role: the PreSignUp trigger on local pools only."""
    return (
        "api",
        "processor",
        "events",
        *(("live",) if cfg.live_status else ()),
        *(("presignup",) if cfg.auto_confirm else ()),
    )


# Every function deploy may have made on any target: destroy removes each that exists.
ALL_FUNCTIONS = ("api", "processor", "events", "live", "presignup")


@dataclass(frozen=True)
class StackConfig:
    target: str  # embedded | localstack | aws
    region: str
    endpoint_url: str | None
    prefix: str = "imagepipe"
    site_origins: tuple[str, ...] = ("http://127.0.0.1:8080", "http://localhost:8080")
    function_env: dict = field(default_factory=dict)  # extra settings for both functions
    throttle_rate: float = 50.0
    throttle_burst: int = 100
    # Reserved concurrency: bombs and bursts cannot use up the account's concurrency. None = the
    # account pool (the embedded emulator dead-letters throttled events instead of retrying).
    processor_concurrency: int | None = None
    # Days an overwritten or deleted original stays recoverable (upload bucket versioning).
    noncurrent_version_days: int = 30
    settings: Settings = field(default_factory=Settings)  # the functions' limits and quotas, for sizing and the page

    @property
    def limits(self) -> Limits:
        return self.settings.limits

    arch: str = "x86_64"  # Lambda architecture: x86_64 | arm64
    # Bucket names are global on AWS: "-<account>-<region>" there, nothing locally.
    bucket_suffix: str = ""
    site_bucket_enabled: bool = False  # the page from a private bucket through CloudFront (AWS target)
    alarm_email: str | None = None  # ALARM_EMAIL: subscribed to the alarms' topic (AWS target)
    log_retention_days: int = 30  # the functions' log groups (LOG_RETENTION_DAYS)
    # The bucket S3 Inventory delivers the upload bucket's manifests to (BATCH_INVENTORY_BUCKET): the
    # batch state machine may then read one instead of listing the bucket (bootstrap/deploy/batch.py).
    batch_inventory_bucket: str | None = None
    # Live status on the page (a WebSocket API, bootstrap/deploy/live.py). Off where the target has
    # no WebSocket APIs: LocalStack's need Pro (docs/targets.md); the page then polls.
    live_status: bool = True
    # (access key id, secret) for the provisioner's clients; None: boto3's own chain (environment,
    # profile, role). Local targets get dummy ones when the environment names none.
    credentials: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def upload_bucket(self) -> str:
        return f"{self.prefix}-uploads{self.bucket_suffix}"

    @property
    def processed_bucket(self) -> str:
        return f"{self.prefix}-processed{self.bucket_suffix}"

    @property
    def site_bucket(self) -> str:
        return f"{self.prefix}-site{self.bucket_suffix}"

    @property
    def site_distribution(self) -> str:
        """The CloudFront distribution's Comment: how deploy finds it again (distributions have no name)."""
        return f"{self.prefix} site"

    @property
    def site_headers_policy(self) -> str:
        """The CloudFront response headers policy's name (account-wide: the suffix names the region,
        whose buckets its CSP allows)."""
        return f"{self.prefix}-site-headers{self.bucket_suffix}"

    @property
    def table(self) -> str:
        return f"{self.prefix}-images"

    def function(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    @property
    def api_name(self) -> str:
        return f"{self.prefix}-api"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.prefix}-processor-dlq"

    @property
    def event_bus(self) -> str:
        """The stack's own EventBridge bus: image events (docs/events.md), and the rules on it."""
        return f"{self.prefix}-events"

    @property
    def websocket_api(self) -> str:
        """The live status's WebSocket API (found again by this name)."""
        return f"{self.prefix}-live"

    @property
    def live_authorizer(self) -> str:
        return f"{self.prefix}-live-token"

    @property
    def live_rule(self) -> str:
        """The rule on the stack's bus that hands image events to the live function."""
        return f"{self.prefix}-live"

    @property
    def similar_table(self) -> str:
        """The near-duplicate band index (handlers/similar_index.py)."""
        return f"{self.prefix}-similar"

    @property
    def connections_table(self) -> str:
        return f"{self.prefix}-connections"

    @property
    def sweep_rule(self) -> str:
        return f"{self.prefix}-sweep"

    @property
    def alarm_topic(self) -> str:
        return f"{self.prefix}-alarms"

    @property
    def batch_state_machine(self) -> str:
        return f"{self.prefix}-batch"

    @property
    def dashboard(self) -> str:
        return self.prefix

    @property
    def user_pool(self) -> str:
        return f"{self.prefix}-users"

    @property
    def app_client(self) -> str:
        return f"{self.prefix}-web"

    @property
    def authorizer(self) -> str:
        return f"{self.prefix}-cognito"

    @property
    def auto_confirm(self) -> bool:
        """Local pools confirm sign-ups at once (PreSignUp trigger): no email can be sent there."""
        return self.target != "aws"

    @property
    def cognito_endpoint(self) -> str:
        return self.endpoint_url or f"https://cognito-idp.{self.region}.amazonaws.com"

    @property
    def protects_data(self) -> bool:
        """AWS only: point-in-time recovery of the table (locally the emulator's disk is the backup)."""
        return self.target == "aws"

    @property
    def buckets(self) -> tuple[str, ...]:
        return (self.upload_bucket, self.processed_bucket) + ((self.site_bucket,) if self.site_bucket_enabled else ())


def session_for(cfg: StackConfig) -> boto3.session.Session:
    """The config's region and credentials, whatever AWS_DEFAULT_REGION says."""
    key, secret = cfg.credentials or (None, None)
    return boto3.session.Session(region_name=cfg.region, aws_access_key_id=key, aws_secret_access_key=secret)
