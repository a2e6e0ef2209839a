"""The whole stack: the ordered steps of deploy and of destroy, and their dry runs.

Each step calls one resource module (storage, iam, functions, events, identity, api, site). The
dry run is the same run with a DisplayOnlyExecutor (bootstrap/deploy/executor.py): every change
printed instead of made. Deploy's plans from an account without the stack (offline); destroy's
reads the target, since it can only remove what is there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bootstrap.deploy import api, batch, bus, events, functions, iam, identity, live, monitoring, site, storage
from bootstrap.deploy.config import (
    API_MEMORY_MB,
    API_TIMEOUT_S,
    EVENTS_MEMORY_MB,
    EVENTS_TIMEOUT_S,
    LIVE_MEMORY_MB,
    LIVE_TIMEOUT_S,
    PROCESSOR_TIMEOUT_S,
    StackConfig,
    function_roles,
    processor_memory_mb,
)
from bootstrap.deploy.executor import Aws, DisplayOnlyExecutor, Executor
from handlers.formats import ACCEPTED_CONTENT_TYPES
from handlers.identity import ADMINS_GROUP
from handlers.schema import DEFAULT_PAGE


@dataclass
class Deployment:
    """What one deploy carries from step to step: the clients, the config (the site step adds
    the CloudFront origin to it, for CORS), the code, and what earlier steps made."""

    aws: Aws
    cfg: StackConfig
    code: bytes = b""
    log: Callable[[str], None] = print
    site: dict = field(default_factory=dict)  # the CloudFront distribution (AWS target)
    roles: dict[str, str] = field(default_factory=dict)  # role -> role ARN
    pool_id: str = ""
    pool_arn: str = ""
    client_id: str = ""
    api_arn: str = ""
    processor_arn: str = ""
    batch_arn: str = ""
    event_bus_arn: str = ""
    api_id: str = ""
    live_api_id: str = ""  # the WebSocket API of the live status, where the target has one
    api_environment: dict = field(default_factory=dict)  # the API function's, for the devserver's in-process API
    new_table: bool = False  # the images table was made by this deploy

    @property
    def site_url(self) -> str | None:
        return f"https://{self.site['DomainName']}" if self.site else None


def always(cfg: StackConfig) -> bool:
    return True


def with_site(cfg: StackConfig) -> bool:
    return cfg.site_bucket_enabled


@dataclass(frozen=True)
class Step:
    """One deploy step: its title (progress, and the dry run's heading), how it runs, and for
    which configs. Every chosen step's `check` runs before any step runs."""

    title: Callable[[StackConfig], str]
    run: Callable[[Deployment], None]
    when: Callable[[StackConfig], bool] = always
    check: Callable[[StackConfig], None] = lambda cfg: None


def _site(d: Deployment) -> None:
    d.site = site.ensure_site_distribution(d.aws, d.cfg)
    d.cfg = dataclasses.replace(d.cfg, site_origins=(d.site_url, *d.cfg.site_origins))


def _table(d: Deployment) -> None:
    d.new_table = storage.ensure_table(d.aws, d.cfg, log=d.log)


def _roles(d: Deployment) -> None:
    policies = iam.function_policies(d.cfg, d.aws.account)
    d.roles = {role: iam.ensure_role(d.aws, d.cfg, role, policies[role]) for role in function_roles(d.cfg)}


def _identity(d: Deployment) -> None:
    presignup_arn = (
        functions.ensure_function(
            d.aws, d.cfg, "presignup", d.roles["presignup"], d.code, "handlers.presignup.handler", 128, 5
        )
        if d.cfg.auto_confirm
        else None
    )
    d.pool_id, d.pool_arn = identity.ensure_user_pool(d.aws, d.cfg, presignup_arn)
    if presignup_arn:  # the trigger asks the pool about users: its policy names the pool, known now
        policy = iam.function_policies(d.cfg, d.aws.account, d.pool_arn)["presignup"]
        iam.put_role_policy(d.aws, d.cfg, "presignup", policy)
    d.client_id = identity.ensure_app_client(d.aws, d.cfg, d.pool_id)
    identity.ensure_admins_group(d.aws, d.pool_id)


def _api_function(d: Deployment) -> None:
    # The API asks the pool about groups: its policy names the pool, known now.
    iam.put_role_policy(d.aws, d.cfg, "api", iam.function_policies(d.cfg, d.aws.account, d.pool_arn)["api"])
    d.api_environment = functions.api_environment(d.cfg, d.pool_id, d.client_id)
    d.api_arn = functions.ensure_function(
        d.aws,
        d.cfg,
        "api",
        d.roles["api"],
        d.code,
        "handlers.api.handler",
        API_MEMORY_MB,
        API_TIMEOUT_S,
        d.api_environment,
    )


def _processor_function(d: Deployment) -> None:
    d.processor_arn = functions.ensure_function(
        d.aws,
        d.cfg,
        "processor",
        d.roles["processor"],
        d.code,
        "handlers.processor_lambda.handler",
        processor_memory_mb(d.cfg.limits),
        PROCESSOR_TIMEOUT_S,
    )


def _batch(d: Deployment) -> None:
    policy = iam.batch_policy(d.cfg, d.aws.account)
    trusted = iam.trust("states.amazonaws.com", d.aws.account)
    role_arn = iam.ensure_role(d.aws, d.cfg, iam.BATCH_ROLE, policy, trusted=trusted)
    d.batch_arn = batch.ensure_batch_state_machine(d.aws, d.cfg, role_arn, d.processor_arn, d.log)


def _image_events(d: Deployment) -> None:
    env = functions.function_environment(d.cfg, "events", EVENT_BUS_NAME=d.cfg.event_bus)
    functions.ensure_function(
        d.aws,
        d.cfg,
        "events",
        d.roles["events"],
        d.code,
        "handlers.image_events_lambda.handler",
        EVENTS_MEMORY_MB,
        EVENTS_TIMEOUT_S,
        env,
    )
    d.event_bus_arn = bus.ensure_image_events(d.aws, d.cfg)


def _live(d: Deployment) -> None:
    live.ensure_connections_table(d.aws, d.cfg)
    d.live_api_id = live.ensure_websocket_api(d.aws, d.cfg)
    # Its policy names the pool and the API's connections, known now.
    policy = iam.function_policies(d.cfg, d.aws.account, d.pool_arn, d.live_api_id)["live"]
    iam.put_role_policy(d.aws, d.cfg, "live", policy)
    env = functions.function_environment(
        d.cfg,
        "live",
        CONNECTIONS_TABLE=d.cfg.connections_table,
        LIVE_CALLBACK_URL=live.callback_url(d.cfg, d.live_api_id),
        USER_POOL_ID=d.pool_id,
        USER_POOL_CLIENT_ID=d.client_id,
    )
    arn = functions.ensure_function(
        d.aws,
        d.cfg,
        "live",
        d.roles["live"],
        d.code,
        "handlers.live_lambda.handler",
        LIVE_MEMORY_MB,
        LIVE_TIMEOUT_S,
        env,
    )
    live.ensure_live_routes(d.aws, d.cfg, d.live_api_id, arn)
    live.ensure_live_rule(d.aws, d.cfg, arn)


def with_live_status(cfg: StackConfig) -> bool:
    return cfg.live_status


def _rest_api(d: Deployment) -> None:
    d.api_id = api.ensure_rest_api(d.aws, d.cfg, d.api_arn, d.pool_arn)


def _publish(d: Deployment) -> None:
    config = site_config(d.cfg, api.api_url(d.cfg, d.api_id), d.pool_id, d.client_id, events_url(d))
    site.publish_site(d.aws, d.cfg, site.FRONTEND, config)


# In the order deploy runs them. First on AWS: the page's HTTPS origin, which CORS (upload
# bucket, API) must name; the page itself last, once its config.json is known.
DEPLOY_STEPS: tuple[Step, ...] = (
    Step(
        title=lambda cfg: f"site bucket {cfg.site_bucket} behind CloudFront",
        run=_site,
        when=with_site,
        check=lambda cfg: site.check_vendored(site.FRONTEND),  # before anything is created
    ),
    Step(
        title=lambda cfg: f"buckets {cfg.upload_bucket}, {cfg.processed_bucket}",
        run=lambda d: storage.ensure_buckets(d.aws, d.cfg),
    ),
    Step(title=lambda cfg: f"tables {cfg.table}, {cfg.similar_table} (near duplicates)", run=_table),
    Step(title=lambda cfg: "roles", run=_roles),
    Step(
        title=lambda cfg: f"user pool {cfg.user_pool}, app client {cfg.app_client}, group {ADMINS_GROUP}",
        run=_identity,
    ),
    Step(title=lambda cfg: f"function {cfg.function('api')}", run=_api_function),
    Step(title=lambda cfg: f"function {cfg.function('processor')}", run=_processor_function),
    Step(
        title=lambda cfg: f"retries, dead-letter queue {cfg.dead_letter_queue}, sweep schedule",
        run=lambda d: events.ensure_nothing_lost(d.aws, d.cfg, d.processor_arn, d.log),
    ),
    Step(
        title=lambda cfg: f"S3 notification {cfg.upload_bucket} -> {cfg.function('processor')}",
        run=lambda d: functions.ensure_upload_notification(d.aws, d.cfg, d.processor_arn),
    ),
    Step(
        title=lambda cfg: f"batch state machine {cfg.batch_state_machine} (reprocess, reconcile) and its role",
        run=_batch,
    ),
    Step(title=lambda cfg: f"REST API {cfg.api_name}, stage {api.STAGE}, Cognito authorizer", run=_rest_api),
    # Once the functions run this code: what the earlier code wrote meanwhile, and what it alone read.
    Step(
        title=lambda cfg: f"table {cfg.table}: records from before takenKey, retired indexes",
        run=lambda d: storage.settle_table(d.aws, d.cfg, d.new_table, d.log),
    ),
    # After the table is settled: its stream then carries the changes of live code only.
    Step(
        title=lambda cfg: (
            f"image events: bus {cfg.event_bus}, the table's stream, function {cfg.function('events')} reading it"
        ),
        run=_image_events,
    ),
    Step(
        title=lambda cfg: (
            f"live status: WebSocket API {cfg.websocket_api}, table {cfg.connections_table}, "
            f"function {cfg.function('live')}, rule {cfg.live_rule}"
        ),
        run=_live,
        when=with_live_status,
    ),
    Step(
        title=lambda cfg: (
            f"alarms, their topic {cfg.alarm_topic}, the functions' log groups"
            + (f", dashboard {cfg.dashboard}" if cfg.target == "aws" else "")
        ),
        run=lambda d: monitoring.ensure_monitoring(d.aws, d.cfg),
    ),
    Step(
        title=lambda cfg: f"response headers policy {cfg.site_headers_policy} on the CloudFront distribution",
        run=lambda d: site.ensure_site_headers(d.aws, d.cfg, deployment_outputs(d), d.site),
        when=with_site,
    ),
    Step(title=lambda cfg: f"page and config.json into {cfg.site_bucket}", run=_publish, when=with_site),
)


def deploy_steps(cfg: StackConfig) -> list[Step]:
    """The steps deploy runs for this config, in order; `[i/n]` counts them (packaging the
    code, before deploy, is step 0)."""
    return [step for step in DEPLOY_STEPS if step.when(cfg)]


def deploy(
    cfg: StackConfig, zip_path: Path | None, log: Callable[[str], None] = print, executor: Executor | None = None
) -> dict:
    """Every step, in order, each safe to run again; returns the stack's outputs."""
    steps = deploy_steps(cfg)
    for step in steps:
        step.check(cfg)
    aws = Aws(cfg, executor)
    d = Deployment(aws=aws, cfg=cfg, code=aws.executor.code(zip_path.read_bytes() if zip_path else None), log=log)
    for number, step in enumerate(steps, 1):
        log(f"[{number}/{len(steps)}] {step.title(d.cfg)}")
        step.run(d)
    return deployment_outputs(d)


def plan(cfg: StackConfig, show: Callable[[str], None] = print) -> DisplayOnlyExecutor:
    """Deploy's dry run: the calls a first deploy of this config makes, shown, none sent."""
    executor = DisplayOnlyExecutor(reads="empty", show=show)
    deploy(cfg, None, log=show, executor=executor)
    return executor


def events_url(d: Deployment) -> str | None:
    return live.events_url(d.cfg, d.live_api_id) if d.live_api_id else None


def site_config(cfg: StackConfig, api_url: str, pool_id: str, client_id: str, events: str | None = None) -> dict:
    """The page's config.json, on every target: what it needs to sign in and to check files
    against the server's own limits before sending them; where to hear of its images (eventsUrl,
    null where the target has no WebSocket API: the page polls)."""
    return {
        "apiUrl": api_url,
        "eventsUrl": events,
        "maxBytes": cfg.limits.max_bytes,
        "pageSize": DEFAULT_PAGE,
        "acceptedTypes": sorted(ACCEPTED_CONTENT_TYPES),
        "auth": {
            "region": cfg.region,
            "userPoolId": pool_id,
            "clientId": client_id,
            "endpoint": cfg.cognito_endpoint,
            "confirmSignUp": not cfg.auto_confirm,
            "passwordMinLength": identity.PASSWORD_POLICY["MinimumLength"],
        },
        "quota": {"uploadsPerDay": cfg.settings.quota.uploads_per_day, "bytes": cfg.settings.quota.bytes},
    }


def deployment_outputs(d: Deployment) -> dict:
    """What the devserver, the tests and `bootstrap outputs` read."""
    cfg = d.cfg
    outputs = {
        "target": cfg.target,
        "region": cfg.region,
        "endpointUrl": cfg.endpoint_url,
        "apiId": d.api_id,
        "apiUrl": api.api_url(cfg, d.api_id),
        "uploadBucket": cfg.upload_bucket,
        "processedBucket": cfg.processed_bucket,
        "table": cfg.table,
        "functions": {role: cfg.function(role) for role in function_roles(cfg) if role != "presignup"},
        "deadLetterQueue": cfg.dead_letter_queue,
        "eventBus": cfg.event_bus,
        "eventBusArn": d.event_bus_arn,
        "eventsUrl": events_url(d),
        "liveApiId": d.live_api_id or None,
        "connectionsTable": cfg.connections_table if cfg.live_status else None,
        "similarTable": cfg.similar_table,
        "batchStateMachine": d.batch_arn,
        "userPoolId": d.pool_id,
        "userPoolClientId": d.client_id,
        "apiEnvironment": d.api_environment,
    }
    if cfg.settings.public_s3_endpoint:  # where browsers reach S3, if not endpointUrl (the page's CSP names it)
        outputs["publicS3Endpoint"] = cfg.settings.public_s3_endpoint
    outputs["siteConfig"] = site_config(cfg, outputs["apiUrl"], d.pool_id, d.client_id, outputs["eventsUrl"])
    if d.site_url:
        outputs["siteBucket"] = cfg.site_bucket
        outputs["siteUrl"] = d.site_url
        outputs["siteOrigins"] = list(cfg.site_origins)
    return outputs


# --- destroy: what deploy made, in reverse order, and nothing else ------------------------------


@dataclass(frozen=True)
class Remover:
    """One destroy step: its title, how it runs, and for which configs. Each is safe when what
    it removes is gone: it looks before it deletes, so its dry run shows only real removals."""

    title: str
    run: Callable[[Aws, StackConfig, Callable[[str], None]], None]
    when: Callable[[StackConfig], bool] = always


DESTROY_STEPS: tuple[Remover, ...] = (
    Remover(
        "CloudFront distribution, origin access control, headers policy", site.remove_site_distribution, when=with_site
    ),
    Remover("dashboard, alarms, their topic, log groups", monitoring.remove_monitoring),
    Remover("sweep schedule", events.remove_sweep_schedule),
    Remover("dead-letter queue", events.remove_dead_letter_queue),
    Remover("live status: its rule, the WebSocket API, the connections table", live.remove_live, when=with_live_status),
    Remover("image events: the stream's mapping, the bus and its rules", bus.remove_image_events),
    Remover("REST API", api.remove_rest_api),
    Remover("user pool (its app client, groups and users with it)", identity.remove_user_pool),
    Remover("batch state machine", batch.remove_batch_state_machine),
    Remover("functions", functions.remove_functions),
    Remover("roles", iam.remove_roles),
    Remover("tables (images, near duplicates)", storage.remove_table),
    Remover("buckets (emptied first, versions included)", storage.remove_buckets),
)


def destroy_steps(cfg: StackConfig) -> list[Remover]:
    return [step for step in DESTROY_STEPS if step.when(cfg)]


def destroy(cfg: StackConfig, log: Callable[[str], None] = print, executor: Executor | None = None) -> None:
    """What deploy made, in reverse order, and nothing else."""
    aws = Aws(cfg, executor)
    said = (lambda _: None) if isinstance(aws.executor, DisplayOnlyExecutor) else log  # nothing was deleted
    steps = destroy_steps(cfg)
    for number, step in enumerate(steps, 1):
        log(f"[{number}/{len(steps)}] {step.title}")
        step.run(aws, cfg, said)


def destroy_plan(cfg: StackConfig, show: Callable[[str], None] = print) -> DisplayOnlyExecutor:
    """Destroy's dry run: what it would delete on the target as it is now, shown, none sent."""
    executor = DisplayOnlyExecutor(reads="target", show=show)
    destroy(cfg, log=show, executor=executor)
    return executor
