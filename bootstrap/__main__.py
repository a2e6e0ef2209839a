"""python -m bootstrap deploy|destroy|outputs|package|user|reconcile|reprocess|stats|logs|credentials
                    [--target embedded|localstack|aws]

The one provisioner for every target. Local targets use region us-east-1; the embedded emulator
is signed with the stack's own key, made on its first start and kept in
$IMAGEPIPE_STATE_DIR/credentials.json (`credentials` prints it as shell export lines), LocalStack
with dummy credentials (unless the environment names some); the endpoint comes from
AWS_ENDPOINT_URL (default http://127.0.0.1:4566). The environment is read, never changed.
The last deploy's outputs are kept in $IMAGEPIPE_STATE_DIR/outputs.json (default .stack/).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import PLACEHOLDER_ACCOUNT
from bootstrap.deploy.plan import deploy, deploy_steps, destroy, destroy_plan, plan
from bootstrap.outputs import local_credentials, outputs_path, state_dir
from bootstrap.package import ROOT, Platform, build_zip
from handlers.config import SETTINGS, Settings, setting_named

LOCAL_TARGETS = ("embedded", "localstack")
# The functions' settings chosen at deploy time (handlers.config.SETTINGS): passed to both functions
# when set in the deploying environment.
PASSTHROUGH = tuple(setting.variable for setting in SETTINGS if setting.chosen_at_deploy)


def config_for(target: str, arch: str = "x86_64", account: str | None = None) -> StackConfig:
    """The stack for this target, from the environment, which it leaves as it is: the region and,
    on local targets, the credentials it decides travel in the config (bootstrap.deploy.executor.Aws)."""
    on_aws = target == "aws"
    region = aws_region() if on_aws else "us-east-1"
    prefix = os.environ.get("STACK_PREFIX", "imagepipe")
    suffix = f"-{account or PLACEHOLDER_ACCOUNT}-{region}" if on_aws else ""  # no account: a dry run
    if target in LOCAL_TARGETS:
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    else:
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or None  # set only to exercise this path on an emulator
    return StackConfig(
        target=target,
        region=region,
        endpoint_url=endpoint,
        prefix=prefix,
        site_origins=site_origins(on_aws),
        function_env={k: os.environ[k] for k in PASSTHROUGH if os.environ.get(k)},
        processor_concurrency=processor_concurrency(on_aws),
        noncurrent_version_days=int(os.environ.get("NONCURRENT_VERSION_DAYS") or 30),
        settings=dataclasses.replace(Settings.from_env(), region=region, endpoint_url=endpoint),
        arch=arch,
        bucket_suffix=suffix,
        site_bucket_enabled=on_aws,
        alarm_email=(os.environ.get("ALARM_EMAIL") or None) if on_aws else None,  # no mail leaves a local stack
        log_retention_days=int(os.environ.get("LOG_RETENTION_DAYS") or 30),
        batch_inventory_bucket=os.environ.get("BATCH_INVENTORY_BUCKET") or None,
        credentials=local_credentials(target),
        live_status=target != "localstack",  # LocalStack's WebSocket APIs need Pro (docs/targets.md)
    )


def site_origins(on_aws: bool) -> tuple[str, ...]:
    """ALLOWED_ORIGINS; else on AWS SITE_URL if the page lives elsewhere too (deploy adds the
    CloudFront origin it creates); else locally the devserver's, by IP and by name."""
    origins = os.environ.get("ALLOWED_ORIGINS")
    if origins:
        return setting_named("ALLOWED_ORIGINS").parse(origins)  # read as the functions read it
    if on_aws:
        return (os.environ["SITE_URL"].rstrip("/"),) if os.environ.get("SITE_URL") else ()
    site = os.environ.get("SITE_URL", "http://127.0.0.1:8080").rstrip("/")
    return (site, site.replace("127.0.0.1", "localhost")) if "127.0.0.1" in site else (site,)


# On AWS the processor gets reserved concurrency unless PROCESSOR_CONCURRENCY says otherwise
# (0: none); locally none (the embedded emulator dead-letters throttled events).
AWS_PROCESSOR_CONCURRENCY = 10


def processor_concurrency(on_aws: bool) -> int | None:
    raw = os.environ.get("PROCESSOR_CONCURRENCY")
    if raw:
        return int(raw) or None
    return AWS_PROCESSOR_CONCURRENCY if on_aws else None


def lambda_platform(target: str, arch: str = "x86_64") -> Platform:
    """The interpreter that will run the function code.

    The embedded emulator runs Python functions with its own interpreter, so the zip's
    native wheels must match it; LocalStack and AWS run the python3.12 runtime.
    LAMBDA_PYTHON_VERSION overrides (tests use it to run the AWS path on the emulator).
    """
    machine = "aarch64" if arch == "arm64" else "x86_64"
    if os.environ.get("LAMBDA_PYTHON_VERSION"):
        return Platform(os.environ["LAMBDA_PYTHON_VERSION"], machine)
    if target == "embedded":
        python = os.environ.get("EMULATOR_PYTHON", str(ROOT / ".venv-emulator" / "bin" / "python"))
        version = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return Platform(version, machine)
    return Platform("3.12", machine)


def aws_region() -> str:
    """AWS_REGION, AWS_DEFAULT_REGION, then the profile's region, then us-east-1."""
    import boto3

    return (
        os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or boto3.session.Session().region_name
        or "us-east-1"
    )


def account_id() -> str:
    import boto3

    sts = boto3.client("sts", region_name=aws_region(), endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    return sts.get_caller_identity()["Account"]


def make_user(args, log) -> int:
    """A confirmed user of the deployed stack's pool, with a new password printed once."""
    import secrets

    from bootstrap.deploy.executor import Aws
    from bootstrap.deploy.identity import create_user, find_user_pool

    if not args.email:
        log("user: --email is required (make user EMAIL=you@example.com)")
        return 2
    cfg = config_for(args.target, args.arch, account_id() if args.target == "aws" else None)
    aws = Aws(cfg)
    found = find_user_pool(aws, cfg)
    if not found:
        log(f"no user pool {cfg.user_pool} on {args.target}: deploy first (make up)")
        return 1
    password = secrets.token_urlsafe(12)
    create_user(aws, found[0], args.email, password, admin=args.admin)
    print(json.dumps({"email": args.email, "password": password, "admin": args.admin}))
    log(f"user {args.email}{' (admin)' if args.admin else ''} can sign in with password {password}")
    return 0


def deployed_stack(args, log):
    """The last deploy's outputs and clients for its target; None (said why) if there is none."""
    from bootstrap.deploy.executor import Aws

    if not outputs_path().exists():
        log(f"no deploy recorded in {outputs_path()}; deploy first")
        return None
    outputs = json.loads(outputs_path().read_text())
    return Aws(config_for(args.target, args.arch, account_id() if args.target == "aws" else None)), outputs


def run_reconcile(args, log) -> int:
    """Rebuild missing or stale records of the deployed stack from its buckets: the files on the
    batch state machine where the stack has it, then the records whose file is gone."""
    from bootstrap.batch_runs import clean, run_input
    from bootstrap.reconcile import give_taken_keys, listed_keys, reconcile, retire_missing, similar_images
    from handlers.records import ImageRecords

    if not (deployed := deployed_stack(args, log)):
        return 1
    aws, outputs = deployed
    give_taken_keys(aws.dynamodb, outputs, log)
    if not on_the_state_machine(args, outputs, log):
        reconcile(aws.s3, aws.dynamodb, aws.lambda_, outputs, log)
        return 0
    summary = batch_run(aws, outputs, run_input("reconcile", inventory_manifest=args.inventory_manifest), log)
    records = ImageRecords(aws.dynamodb, outputs["table"])
    present = set(listed_keys(aws.s3, outputs["uploadBucket"]))
    retired = retire_missing(aws.s3, records, outputs, present, similar_images(aws.dynamodb, outputs))
    log("reconcile: records whose file is gone: " + (", ".join(f"{n} {w}" for w, n in retired.items()) or "none"))
    return 0 if clean(summary) else 1


def run_reprocess(args, log) -> int:
    """Re-render the images made with an older rendition spec than the deployed processor's
    (every one with --all): on the batch state machine where the stack has it."""
    from bootstrap.batch_runs import clean, run_input
    from bootstrap.reconcile import give_taken_keys
    from bootstrap.reprocess import ProcessorMisconfigured, current_spec_version, reprocess

    if not (deployed := deployed_stack(args, log)):
        return 1
    aws, outputs = deployed
    give_taken_keys(aws.dynamodb, outputs, log)
    try:
        if args.id or not on_the_state_machine(args, outputs, log):
            outcomes = reprocess(aws.lambda_, aws.dynamodb, outputs, image_id=args.id, force=args.all, log=log)
            return 1 if outcomes.get("error") else 0
        version = current_spec_version(aws.lambda_, outputs["functions"]["processor"])
    except ProcessorMisconfigured as exc:
        log(f"reprocess: nothing started: {exc}")
        return 1
    log(f"reprocess: re-rendering {'every processed image' if args.all else 'what an older spec made'}, spec {version}")
    wanted = run_input("reprocess", args.all, version, inventory_manifest=args.inventory_manifest)
    summary = batch_run(aws, outputs, wanted, log)
    return 0 if clean(summary) else 1


def on_the_state_machine(args, outputs: dict, log) -> bool:
    """Batch work runs on the state machine unless asked (--local) or the stack has none."""
    if args.local:
        return False
    if not outputs.get("batchStateMachine"):
        log(f"{args.command}: this stack has no batch state machine (deployed before it): running here")
        return False
    return True


def batch_run(aws, outputs: dict, wanted: dict, log) -> dict:
    from bootstrap.batch_runs import BatchBusy, run_batch

    try:
        return run_batch(aws.sfn, outputs["batchStateMachine"], wanted, log)
    except BatchBusy as busy:
        log(f"{wanted['job']}: {busy}")
        return {"status": "NOT_STARTED"}
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def show_stats(args, log) -> int:
    """The deployed stack's health, as its admins see it on the page (handlers/health.py)."""
    import time

    from handlers import errors, health
    from handlers.records import ImageRecords

    if not (deployed := deployed_stack(args, log)):
        return 1
    aws, outputs = deployed
    namespace = outputs.get("apiEnvironment", {}).get("POWERTOOLS_METRICS_NAMESPACE")  # the prefix, as deploy gave it
    if not namespace:
        log("stats: this stack was deployed before it had metrics and alarms; deploy it again (make up)")
        return 1
    try:
        report = health.report(aws.cloudwatch, ImageRecords(aws.dynamodb, outputs["table"]), namespace, time.time())
    except errors.ApiError as exc:
        log(exc.message)
        return 1
    print(health.as_text(report))
    return 0


def show_logs(args, log) -> int:
    """One image's log lines from the API and the processor, in time order (bootstrap/logs.py)."""
    from bootstrap.logs import print_story

    if not args.id:
        log("logs: --id is required (make logs ID=<image id>)")
        return 2
    if not (deployed := deployed_stack(args, log)):
        return 1
    aws, outputs = deployed
    return print_story(aws.logs, outputs, args.id, log)


# Shared by every state dir (tests deploy into temp ones): zips are content-addressed.
BUILD = Path(os.environ.get("IMAGEPIPE_BUILD_DIR", ROOT / ".stack" / "build"))


def show_outputs(args, log) -> int:
    if not outputs_path().exists():
        log(f"no deploy recorded in {outputs_path()}; run `python -m bootstrap deploy` first")
        return 1
    print(outputs_path().read_text())
    return 0


def package(args, log) -> int:
    zip_path = build_zip(lambda_platform(args.target, args.arch), BUILD, log)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / zip_path.name).write_bytes(zip_path.read_bytes())
    print(json.dumps({"zip": str((args.out / zip_path.name) if args.out else zip_path)}))
    return 0


def dry_run(args, log) -> int:
    """The very calls deploy or destroy would make for this config, printed, none sent: deploy's
    as on an account without the stack (offline), destroy's from what the target has now."""
    if args.command == "deploy":
        cfg = config_for(args.target, args.arch)
        log(f"dry run: deploy to {args.target} in {cfg.region}, as a first deploy; nothing is sent")
        planned = plan(cfg, show=print)
    else:
        cfg = config_for(args.target, args.arch, account_id() if args.target == "aws" else None)
        log(f"dry run: destroy on {args.target} ({cfg.endpoint_url or cfg.region}); reads only, nothing deleted")
        planned = destroy_plan(cfg, show=print)
    log(f"{len(planned.calls)} calls")
    return 0


def run_deploy(args, log) -> int:
    cfg = config_for(args.target, args.arch, account_id() if args.target == "aws" else None)
    log(f"deploying imagepipe to {args.target} ({cfg.endpoint_url or cfg.region})")
    log(f"[0/{len(deploy_steps(cfg))}] packaging Lambda code")
    outputs = deploy(cfg, build_zip(lambda_platform(args.target, args.arch), BUILD, log), log)
    if "siteUrl" not in outputs:  # locally the devserver serves the page
        outputs["siteUrl"] = os.environ.get("SITE_URL") or cfg.site_origins[0]
    state_dir().mkdir(parents=True, exist_ok=True)
    outputs_path().write_text(json.dumps(outputs, indent=2) + "\n")
    print(json.dumps(outputs, indent=2))
    if args.target == "aws":
        log(f"\n  Site: {outputs['siteUrl']}\n  API:  {outputs['apiUrl']}")
    return 0


def run_destroy(args, log) -> int:
    destroy(config_for(args.target, args.arch, account_id() if args.target == "aws" else None), log)
    outputs_path().unlink(missing_ok=True)
    return 0


def show_credentials(args, log) -> int:
    """The local stack's keys as shell export lines, as `aws configure export-credentials --format env`
    prints them: `eval "$(python -m bootstrap credentials)"`, then awslocal or boto3 sign with them."""
    if args.target not in LOCAL_TARGETS:
        log("credentials: for a local stack only; on AWS, `aws configure export-credentials --format env`")
        return 2
    credentials = local_credentials(args.target)  # None: LocalStack, with the environment's
    key, secret = credentials or (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    print(f"export AWS_ACCESS_KEY_ID={key}\nexport AWS_SECRET_ACCESS_KEY={secret}")
    return 0


COMMANDS = {
    "deploy": run_deploy,
    "destroy": run_destroy,
    "outputs": show_outputs,
    "package": package,
    "user": make_user,
    "reconcile": run_reconcile,
    "reprocess": run_reprocess,
    "stats": show_stats,
    "logs": show_logs,
    "credentials": show_credentials,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bootstrap", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=list(COMMANDS))
    parser.add_argument("--target", choices=["embedded", "localstack", "aws"], default="embedded")
    parser.add_argument("--out", type=Path, help="package: folder for the zip")
    parser.add_argument(
        "--arch",
        choices=["x86_64", "arm64"],
        default=os.environ.get("LAMBDA_ARCH", "x86_64"),
        help="Lambda architecture (aws target)",
    )
    parser.add_argument("--dry-run", action="store_true", help="deploy/destroy: print the plan, call nothing")
    parser.add_argument("--email", help="user: the new user's email (the sign-in name)")
    parser.add_argument("--admin", action="store_true", help="user: also a member of the admins group")
    parser.add_argument("--id", help="reprocess: only this image; logs: the image whose lines to print")
    parser.add_argument("--all", action="store_true", help="reprocess: every processed image, whatever its spec")
    parser.add_argument(
        "--local", action="store_true", help="reprocess, reconcile: run here, not on the batch state machine"
    )
    parser.add_argument(
        "--inventory-manifest",
        help="reprocess, reconcile: an S3 Inventory manifest.json key (BATCH_INVENTORY_BUCKET) to read keys from",
    )
    args = parser.parse_args(argv)

    def log(message: str) -> None:  # progress to stderr, JSON to stdout
        print(message, file=sys.stderr, flush=True)

    if args.dry_run and args.command in ("deploy", "destroy"):
        return dry_run(args, log)
    return COMMANDS[args.command](args, log)


if __name__ == "__main__":
    sys.exit(main())
