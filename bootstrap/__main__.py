"""python -m bootstrap deploy|destroy|outputs|package [--target embedded|localstack|aws]

The one provisioner for every target. Local targets use region us-east-1 and dummy
credentials; the endpoint comes from AWS_ENDPOINT_URL (default http://127.0.0.1:4566).
The last deploy's outputs are kept in $IMAGEPIPE_STATE_DIR/outputs.json (default .stack/).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from bootstrap.outputs import outputs_path, state_dir
from bootstrap.package import ROOT, Platform, build_zip
from bootstrap.stack import StackConfig, deploy, destroy

LOCAL_TARGETS = ("embedded", "localstack")
# Settings passed through to both functions when set in the deploying environment.
PASSTHROUGH = ("MAX_UPLOAD_BYTES", "MAX_PIXELS", "UPLOAD_EXPIRY_SECONDS", "RENDITION_URL_SECONDS",
               "PENDING_TTL_SECONDS", "STUCK_AFTER_SECONDS", "PUBLIC_S3_ENDPOINT", "FAULT_INJECTION")


def config_for(target: str) -> StackConfig:
    site = os.environ.get("SITE_URL", "http://127.0.0.1:8080").rstrip("/")
    origins = os.environ.get("ALLOWED_ORIGINS")
    if origins:
        site_origins = tuple(o.strip() for o in origins.split(",") if o.strip())
    else:
        site_origins = (site, site.replace("127.0.0.1", "localhost")) if "127.0.0.1" in site else (site,)
    if target in LOCAL_TARGETS:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        region = "us-east-1"
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    else:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    os.environ["AWS_DEFAULT_REGION"] = region
    return StackConfig(
        target=target,
        region=region,
        endpoint_url=endpoint,
        prefix=os.environ.get("STACK_PREFIX", "imagepipe"),
        site_origins=site_origins,
        function_env={k: os.environ[k] for k in PASSTHROUGH if os.environ.get(k)},
        processor_concurrency=int(os.environ["PROCESSOR_CONCURRENCY"]) if os.environ.get("PROCESSOR_CONCURRENCY") else None,
    )


def lambda_platform(target: str) -> Platform:
    """The interpreter that will run the function code.

    The embedded emulator runs Python functions with its own interpreter, so the zip's
    native wheels must match it; LocalStack and AWS run the python3.12 runtime.
    """
    arch = os.environ.get("LAMBDA_ARCH", "aarch64" if platform.machine() in ("arm64", "aarch64") else "x86_64")
    if target == "embedded":
        python = os.environ.get("EMULATOR_PYTHON", str(ROOT / ".venv-emulator" / "bin" / "python"))
        version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
        return Platform(version, arch)
    return Platform("3.12", arch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["deploy", "destroy", "outputs", "package"])
    parser.add_argument("--target", choices=["embedded", "localstack", "aws"], default="embedded")
    parser.add_argument("--out", type=Path, help="package: folder for the zip")
    args = parser.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731  progress to stderr, JSON to stdout

    if args.command == "outputs":
        if not outputs_path().exists():
            log(f"no deploy recorded in {outputs_path()}; run `python -m bootstrap deploy` first")
            return 1
        print(outputs_path().read_text())
        return 0

    cfg = config_for(args.target)
    # Shared by every state dir (tests deploy into temp ones): zips are content-addressed.
    build = Path(os.environ.get("IMAGEPIPE_BUILD_DIR", ROOT / ".stack" / "build"))
    if args.command == "package":
        zip_path = build_zip(lambda_platform(args.target), build, log)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / zip_path.name).write_bytes(zip_path.read_bytes())
        print(json.dumps({"zip": str((args.out / zip_path.name) if args.out else zip_path)}))
        return 0
    if args.command == "deploy":
        log(f"deploying imagepipe to {args.target} ({cfg.endpoint_url or cfg.region})")
        log("[0/8] packaging Lambda code")
        zip_path = build_zip(lambda_platform(args.target), build, log)
        outputs = deploy(cfg, zip_path, log)
        outputs["siteUrl"] = os.environ.get("SITE_URL", cfg.site_origins[0])
        outputs["maxUploadBytes"] = int(os.environ.get("MAX_UPLOAD_BYTES") or 25 * 1024 * 1024)
        state_dir().mkdir(parents=True, exist_ok=True)
        outputs_path().write_text(json.dumps(outputs, indent=2) + "\n")
        print(json.dumps(outputs, indent=2))
        return 0
    destroy(cfg, log)
    if outputs_path().exists():
        outputs_path().unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
