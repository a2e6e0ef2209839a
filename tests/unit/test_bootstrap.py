"""bootstrap/: least-privilege policies and reproducible, self-contained Lambda zips."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bootstrap.package import MAX_UNZIPPED_BYTES, MAX_ZIP_BYTES, ROOT, Platform, build_zip
from bootstrap.stack import StackConfig, function_policies, processor_memory_mb
from handlers.formats import MIB, Limits

CFG = StackConfig(target="aws", region="eu-west-1", endpoint_url=None)
POOL_ARN = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123"


def statements(role: str):
    return function_policies(CFG, "123456789012", POOL_ARN)[role]["Statement"]


def test_policies_name_actions_and_resources_exactly():
    for role in ("api", "processor", "presignup"):
        for statement in statements(role):
            actions = statement["Action"]
            resources = statement["Resource"]
            assert all("*" not in action for action in actions), (role, actions)
            assert "*" not in resources, (role, resources)
            assert all(r.startswith("arn:aws:") for r in resources)


def test_each_function_gets_only_what_it_uses():
    def actions(role):
        return {a for s in statements(role) for a in s["Action"] if not a.startswith("logs:")}

    assert actions("api") == {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:GetObject",
        "cognito-idp:AdminListGroupsForUser",
    }
    # It re-links a lost account's images: finds them, asks the pool, re-owns them.
    assert actions("presignup") == {"dynamodb:Scan", "dynamodb:UpdateItem", "cognito-idp:AdminGetUser"}
    assert actions("processor") == {
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "sqs:SendMessage",
        "lambda:InvokeFunction",
    }

    def resources(role, action):
        return [r for s in statements(role) if action in s["Action"] for r in s["Resource"]]

    # The processor writes renditions only, never into the bucket it reads from (no event loops);
    # there it may delete only what the API issued (the file of a deleted image) and list the
    # bucket (so a missing key answers 404, not 403).
    assert resources("processor", "s3:PutObject") == [f"arn:aws:s3:::{CFG.processed_bucket}/*"]
    assert resources("processor", "s3:DeleteObject") == [
        f"arn:aws:s3:::{CFG.upload_bucket}/uploads/*",
        f"arn:aws:s3:::{CFG.processed_bucket}/*",
    ]
    assert resources("processor", "s3:DeleteObjectVersion") == [f"arn:aws:s3:::{CFG.upload_bucket}/uploads/*"]
    assert resources("processor", "s3:ListBucket") == [f"arn:aws:s3:::{CFG.upload_bucket}"]
    # It invokes itself only (the sweep's re-drives), and queries only the unfinished index.
    assert resources("processor", "lambda:InvokeFunction") == [
        f"arn:aws:lambda:eu-west-1:123456789012:function:{CFG.function('processor')}"
    ]
    assert [r.rsplit("/", 1)[-1] for r in resources("processor", "dynamodb:Query")] == ["byUnfinished"]
    # The API signs uploads only under uploads/; it deletes any original (admins moderate files
    # put into the bucket directly too) and renditions.
    assert resources("api", "s3:PutObject") == [f"arn:aws:s3:::{CFG.upload_bucket}/uploads/*"]
    # It asks the stack's own user pool for a person's groups, and nothing else of Cognito.
    assert resources("api", "cognito-idp:AdminListGroupsForUser") == [POOL_ARN]
    assert resources("api", "s3:DeleteObject") == [
        f"arn:aws:s3:::{CFG.upload_bucket}/*",
        f"arn:aws:s3:::{CFG.processed_bucket}/*",
    ]


def test_zip_is_reproducible_and_self_contained(tmp_path):
    platform = Platform("3.11", "x86_64")
    first = build_zip(platform, tmp_path / "a", log=lambda _: None)
    second = build_zip(platform, tmp_path / "b", log=lambda _: None)
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert "handlers/api.py" in names and "handlers/processor.py" in names
        assert any(n.startswith("PIL/") for n in names)
        assert any(n.startswith("aws_lambda_powertools/") for n in names)
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        assert not any(n.startswith(("boto3/", "botocore/")) for n in names)  # the runtime provides boto3
        native = [n for n in names if n.endswith(".so") and "cpython" in n]
        assert native and all("cpython-311-x86_64-linux-gnu" in n for n in native)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize("arch, machine", [("x86_64", "x86_64"), ("arm64", "aarch64")])
def test_aws_zip_carries_manylinux_wheels_for_the_lambda_runtime(tmp_path, arch, machine):
    """`python -m bootstrap package --target aws --arch ...`: python3.12 wheels for that CPU,
    never the host's site-packages, within Lambda's size limits."""
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap", "package", "--target", "aws", "--arch", arch, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "IMAGEPIPE_BUILD_DIR": str(tmp_path / "build")},
    )
    assert result.returncode == 0, result.stderr
    zip_path = Path(json.loads(result.stdout)["zip"])
    assert zip_path.parent == out and zip_path.stat().st_size < MAX_ZIP_BYTES
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        native = [n for n in names if n.endswith(".so") and "cpython" in n]
        assert native and all(f"cpython-312-{machine}-linux-gnu" in n for n in native), native
        wheels = [n for n in names if n.endswith(".dist-info/WHEEL")]
        tags = [line for n in wheels for line in zf.read(n).decode().splitlines() if line.startswith("Tag:")]
        native_tags = [t for t in tags if "none-any" not in t]
        assert native_tags and all("cp312" in t and machine in t and "manylinux" in t for t in native_tags), tags
        assert sum(i.file_size for i in zf.infolist()) < MAX_UNZIPPED_BYTES


def test_processor_memory_is_its_decode_budget_plus_baseline_and_margin():
    assert processor_memory_mb(Limits()) == 1536  # the default 1 GiB budget
    assert processor_memory_mb(Limits(max_decode_bytes=512 * MIB)) == 1024
    assert processor_memory_mb(Limits(max_decode_bytes=2048 * MIB)) == 2560


@pytest.mark.parametrize("unreserved, expect_put", [(1000, True), (10, False)])
def test_reserved_concurrency_is_set_where_the_account_allows_it(unreserved, expect_put):
    """New accounts have 10 executions in all and AWS keeps 100 unreserved: deploy warns there."""
    from types import SimpleNamespace

    import boto3
    from botocore.stub import Stubber

    from bootstrap.stack import ensure_reserved_concurrency

    client = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("get_function_concurrency", {}, {"FunctionName": "imagepipe-processor"})
        stub.add_response("get_account_settings", {"AccountLimit": {"UnreservedConcurrentExecutions": unreserved}}, {})
        if expect_put:
            stub.add_response(
                "put_function_concurrency",
                {"ReservedConcurrentExecutions": 10},
                {"FunctionName": "imagepipe-processor", "ReservedConcurrentExecutions": 10},
            )
        said = []
        ensure_reserved_concurrency(SimpleNamespace(lambda_=client), "imagepipe-processor", 10, log=said.append)
        stub.assert_no_pending_responses()
    assert bool(said) != expect_put and all("WARNING" in line for line in said)


def test_a_function_is_created_once_iam_lets_lambda_assume_its_new_role():
    """IAM is eventually consistent: Lambda refuses a role for seconds after it is made. Deploy
    retries exactly that refusal with growing waits (injected here), not a fixed sleep."""
    from types import SimpleNamespace

    import boto3
    from botocore.stub import Stubber

    from bootstrap.stack import create_function_when_role_is_ready

    client = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    params = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": b"z"}}
    not_yet = "The role defined for the function cannot be assumed by Lambda."
    waited = []
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error("create_function", "InvalidParameterValueException", not_yet, 400)
        stub.add_response("create_function", {"FunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:f"})
        arn = create_function_when_role_is_ready(SimpleNamespace(lambda_=client), params, wait=waited.append)
    assert arn.endswith(":function:f") and waited == [1, 2]
    with Stubber(client) as stub:  # any other refusal is not waited out
        stub.add_client_error("create_function", "InvalidParameterValueException", "Runtime is wrong", 400)
        with pytest.raises(client.exceptions.InvalidParameterValueException):
            create_function_when_role_is_ready(SimpleNamespace(lambda_=client), params, wait=waited.append)
    assert waited == [1, 2]


# --- one table of steps drives deploy, destroy and their dry runs ------------------------------


def dry_run_lines(capsys, command: str, target: str) -> list[str]:
    from bootstrap.__main__ import main

    capsys.readouterr()
    assert main([command, "--dry-run", "--target", target]) == 0
    return [line.removeprefix("  - ") for line in capsys.readouterr().out.splitlines() if line.startswith("  - ")]


@pytest.fixture
def deploy_env(monkeypatch, tmp_path):
    """The deploying environment, fixed: no emulator, no AWS, outputs in a temp state dir."""
    for name in ("ALLOWED_ORIGINS", "SITE_URL", "STACK_PREFIX", "AWS_ENDPOINT_URL", "PROCESSOR_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("IMAGEPIPE_STATE_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("target", ["embedded", "aws"])
def test_the_dry_run_says_what_the_steps_deploy_runs_say(capsys, deploy_env, target):
    from bootstrap.__main__ import config_for
    from bootstrap.stack import deploy_steps

    cfg = config_for(target)
    steps = deploy_steps(cfg)
    lines = dry_run_lines(capsys, "deploy", target)
    assert lines == [line for step in steps for line in step.describe(cfg)]
    # The site (a private bucket behind CloudFront) only on AWS: first, since CORS names its
    # origin, and its page published last, once its config.json is known.
    site = [line for line in lines if cfg.site_bucket in line]
    # The page's security headers (CSP from the stack's outputs) once the API is known, before the
    # page is published: CloudFront never serves it without them.
    headers = [line for line in lines if cfg.site_headers_policy in line]
    if target == "aws":
        assert len(steps) == 12 and len(site) == 2 and lines[0] == site[0] and lines[-1] == site[1]
        assert "CloudFront" in lines[0] and "point-in-time recovery" in " ".join(lines)
        assert len(headers) == 1 and lines[-2] == headers[0]
        assert "Content-Security-Policy" in headers[0] and "frame-ancestors 'none'" in headers[0]
        assert "nosniff" in headers[0] and "HSTS" in headers[0]
    else:
        assert len(steps) == 9 and not site and "CloudFront" not in " ".join(lines) and not headers
        assert "IAM role imagepipe-presignup-role" in " ".join(lines)  # deploy makes it locally


def fake_steps(ran: list[str]):
    from bootstrap.stack import Step

    def step(name: str, when=lambda cfg: True) -> Step:
        return Step(
            title=lambda cfg: name, describe=lambda cfg: [f"{name}: made"], run=lambda d: ran.append(name), when=when
        )

    return (step("first"), step("site", when=lambda cfg: cfg.site_bucket_enabled), step("second"), step("third"))


@pytest.mark.parametrize(
    "target, expected", [("embedded", ["first", "second", "third"]), ("aws", ["first", "site", "second", "third"])]
)
def test_deploy_counts_the_steps_it_runs_and_the_dry_run_lists_those(capsys, monkeypatch, deploy_env, target, expected):
    from types import SimpleNamespace

    import bootstrap.__main__ as cli
    from bootstrap import stack

    ran: list[str] = []
    monkeypatch.setattr(stack, "DEPLOY_STEPS", fake_steps(ran))
    monkeypatch.setattr(stack, "Aws", lambda cfg: SimpleNamespace(account="123456789012"))
    monkeypatch.setattr(cli, "account_id", lambda: "123456789012")
    monkeypatch.setattr(cli, "lambda_platform", lambda target, arch="x86_64": Platform("3.12", "x86_64"))
    monkeypatch.setattr(cli, "build_zip", lambda platform, build, log: deploy_env / "code.zip")
    monkeypatch.setenv("SITE_URL", "https://site.example")

    assert cli.main(["deploy", "--target", target]) == 0
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    n = len(expected)
    assert ran == expected
    assert progress == [f"[0/{n}] packaging Lambda code"] + [f"[{i}/{n}] {name}" for i, name in enumerate(ran, 1)]
    assert json.loads((deploy_env / "outputs.json").read_text())["target"] == target
    assert dry_run_lines(capsys, "deploy", target) == [f"{name}: made" for name in ran]


def test_destroy_runs_and_its_dry_run_lists_the_same_removers(capsys, monkeypatch, deploy_env):
    from types import SimpleNamespace

    from bootstrap import stack
    from bootstrap.__main__ import config_for

    ran: list[str] = []

    def remover(name: str, when=lambda cfg: True) -> stack.Remover:
        return stack.Remover(
            describe=lambda cfg: [f"{name}: gone"], run=lambda aws, cfg, log: ran.append(name), when=when
        )

    monkeypatch.setattr(
        stack,
        "DESTROY_STEPS",
        (remover("site", when=lambda cfg: cfg.site_bucket_enabled), remover("api"), remover("buckets")),
    )
    monkeypatch.setattr(stack, "Aws", lambda cfg: SimpleNamespace(account="123456789012"))
    for target in ("embedded", "aws"):
        ran.clear()
        stack.destroy(config_for(target), log=lambda _: None)
        assert ran == (["site"] if target == "aws" else []) + ["api", "buckets"]
        assert dry_run_lines(capsys, "destroy", target) == [f"{name}: gone" for name in ran]


@pytest.mark.parametrize("target", ["embedded", "aws"])
def test_destroy_dry_run_names_what_deploy_makes(capsys, deploy_env, target):
    from bootstrap.__main__ import config_for

    cfg = config_for(target)
    lines = " ".join(dry_run_lines(capsys, "destroy", target))
    for name in (cfg.upload_bucket, cfg.processed_bucket, cfg.table, cfg.user_pool, cfg.api_name, cfg.sweep_rule):
        assert name in lines
    assert (cfg.site_bucket in lines) == (cfg.site_distribution in lines) == (target == "aws")
    assert (cfg.site_headers_policy in lines) == (target == "aws")
    assert "CORS" not in lines  # deploy's plan is not destroy's


@pytest.mark.parametrize("target", ["embedded", "localstack", "aws"])
def test_config_for_leaves_the_environment_as_it_is(monkeypatch, tmp_path, target):
    """The region and, locally, the credentials travel in the config, not through os.environ: the
    embedded stack's own key whatever the environment names, dummy ones for LocalStack."""
    from bootstrap.__main__ import config_for
    from bootstrap.local import stack_credentials
    from bootstrap.stack import session_for

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IMAGEPIPE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # the AWS target's region; it wins over the next
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    own = stack_credentials(tmp_path)
    before = dict(os.environ)
    cfg = config_for(target, account="123456789012" if target == "aws" else None)
    assert dict(os.environ) == before
    session = session_for(cfg)
    assert session.region_name == cfg.region == ("eu-central-1" if target == "aws" else "us-east-1")
    if target != "aws":  # on AWS boto3's own chain finds the credentials
        credentials = session.get_credentials()
        assert (credentials.access_key, credentials.secret_key) == (own if target == "embedded" else ("test", "test"))

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-the-env")
    before = dict(os.environ)
    cfg = config_for(target, account="123456789012" if target == "aws" else None)
    assert dict(os.environ) == before
    if target == "embedded":  # the emulator refuses any other key; one exported for another stack must not leak
        assert cfg.credentials == own and session_for(cfg).get_credentials().access_key == own[0]
    else:
        assert cfg.credentials is None and session_for(cfg).get_credentials().access_key == "AKIAFROMTHEENV"


@pytest.mark.parametrize("target", ["embedded", "localstack"])
def test_the_dead_letter_commands_leave_the_environment_as_it_is(monkeypatch, tmp_path, target):
    from bootstrap.deadletters import _clients
    from bootstrap.local import stack_credentials

    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("IMAGEPIPE_STATE_DIR", str(tmp_path))
    before = dict(os.environ)
    sqs, lam = _clients({"target": target, "region": "us-east-1", "endpointUrl": "http://127.0.0.1:1"})
    assert dict(os.environ) == before
    for client in (sqs, lam):
        expected = stack_credentials(tmp_path)[0] if target == "embedded" else "test"
        assert client._request_signer._credentials.access_key == expected


def test_a_stack_key_is_made_once_readable_by_its_owner_only_and_kept(tmp_path):
    """The embedded emulator's root key: made on first use (not MiniStack's public `test`), in a
    0600 file, the same on every later start, so the stack's saved state stays its own."""
    from bootstrap.local import credentials_file, emulator_env, stack_credentials

    state = tmp_path / "stack"
    key, secret = stack_credentials(state)
    path = credentials_file(state)
    assert path.parent == state and path.stat().st_mode & 0o777 == 0o600
    assert len(key) == 20 and key.startswith("AKIA") and key.isalnum() and key.isupper()
    assert len(secret) == 40 and secret.isalnum() and (key, secret) != ("test", "test")
    assert stack_credentials(state) == (key, secret)  # kept: the second call reads it
    assert [p.name for p in state.iterdir()] == [path.name]  # no draft left behind
    assert stack_credentials(tmp_path / "another") != (key, secret)  # each stack its own
    env = emulator_env(4566, state / "emulator")  # what MiniStack starts with
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (key, secret)
    assert "AWS_SESSION_TOKEN" not in env  # a token in the shell would be demanded of root calls


def test_python_m_bootstrap_credentials_prints_export_lines(tmp_path):
    """As `aws configure export-credentials --format env` prints them: `eval` them for awslocal."""
    from bootstrap.local import stack_credentials

    key, secret = stack_credentials(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"IMAGEPIPE_STATE_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "bootstrap", "credentials"]
    printed = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert printed.splitlines() == [f"export AWS_ACCESS_KEY_ID={key}", f"export AWS_SECRET_ACCESS_KEY={secret}"]
    shell = subprocess.run(
        ["sh", "-c", 'eval "$1"; printf "%s %s" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"', "sh", printed],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shell == f"{key} {secret}"


# --- the page's security headers on AWS: a CloudFront response headers policy ----------------


def test_the_site_headers_policy_is_made_once_kept_up_to_date_attached_and_removed(monkeypatch):
    """Deploy creates the policy (by name), attaches it to the distribution's default behavior, and
    on a later deploy changes nothing unless the CSP does (a new API: updated in place); destroy
    deletes it once the distribution is gone. Stubbed CloudFront: only these calls, in this order."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    import boto3
    from botocore.stub import Stubber

    from bootstrap import stack
    from bootstrap.site import cloudfront_security_headers
    from bootstrap.stack import Deployment, deployment_outputs, ensure_site_headers, remove_site_distribution

    cfg = StackConfig(
        target="aws",
        region="eu-west-1",
        endpoint_url=None,
        bucket_suffix="-123456789012-eu-west-1",
        site_bucket_enabled=True,
    )
    assert cfg.site_headers_policy == "imagepipe-site-headers-123456789012-eu-west-1"

    def outputs(api_id: str) -> dict:
        return deployment_outputs(
            Deployment(aws=None, cfg=cfg, zip_path=Path("z"), site_url="https://d1.cloudfront.net", api_id=api_id)
        )

    def wanted(api_id: str) -> dict:
        return {
            "Name": cfg.site_headers_policy,
            "Comment": "imagepipe: the page's CSP and security headers (bootstrap/site.py)",
            "SecurityHeadersConfig": cloudfront_security_headers(outputs(api_id)),
        }

    security = wanted("api1")["SecurityHeadersConfig"]
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert "https://api1.execute-api.eu-west-1.amazonaws.com" in csp and "frame-ancestors 'none'" in csp
    assert security["FrameOptions"]["FrameOption"] == "DENY" and security["ContentTypeOptions"]["Override"]
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000

    now = datetime(2026, 1, 1, tzinfo=UTC)
    listed_none = {"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": 0}}

    def policy_read_back(stub, custom) -> None:  # the policy as the first deploy made it
        stub.add_response("list_response_headers_policies", listed(wanted("api1")), custom)
        stub.add_response(
            "get_response_headers_policy_config",
            {"ResponseHeadersPolicyConfig": wanted("api1"), "ETag": "P1"},
            {"Id": "rhp1"},
        )

    def listed(config: dict) -> dict:
        policy = {"Id": "rhp1", "LastModifiedTime": now, "ResponseHeadersPolicyConfig": config}
        item = {"Type": "custom", "ResponseHeadersPolicy": policy}
        return {"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": 1, "Items": [item]}}

    def distribution_config(policy_id: str | None) -> dict:
        behavior = {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"}
        return {
            "CallerReference": "r",
            "Comment": cfg.site_distribution,
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": "b.s3.eu-west-1.amazonaws.com"}]},
            "DefaultCacheBehavior": behavior | ({"ResponseHeadersPolicyId": policy_id} if policy_id else {}),
        }

    client = boto3.client("cloudfront", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    aws = SimpleNamespace(cloudfront=client)
    distribution = {"Id": "D1"}
    monkeypatch.setattr(stack, "find_site_distribution", lambda aws, cfg: distribution)
    custom = {"Type": "custom"}
    with Stubber(client) as stub:
        # The first deploy: made, then attached.
        stub.add_response("list_response_headers_policies", listed_none, custom)
        stub.add_response(
            "create_response_headers_policy",
            {
                "ResponseHeadersPolicy": {
                    "Id": "rhp1",
                    "LastModifiedTime": now,
                    "ResponseHeadersPolicyConfig": wanted("api1"),
                }
            },
            {"ResponseHeadersPolicyConfig": wanted("api1")},
        )
        stub.add_response(
            "get_distribution_config", {"DistributionConfig": distribution_config(None), "ETag": "E1"}, {"Id": "D1"}
        )
        stub.add_response(
            "update_distribution",
            {
                "Distribution": {
                    "Id": "D1",
                    "ARN": "arn:aws:cloudfront::123456789012:distribution/D1",
                    "Status": "InProgress",
                    "LastModifiedTime": now,
                    "InProgressInvalidationBatches": 0,
                    "DomainName": "d1.cloudfront.net",
                    "DistributionConfig": distribution_config("rhp1"),
                },
                "ETag": "E2",
            },
            {"Id": "D1", "IfMatch": "E1", "DistributionConfig": distribution_config("rhp1")},
        )
        assert ensure_site_headers(aws, cfg, outputs("api1")) == "rhp1"
        # Deployed again, nothing changed: read, never written.
        policy_read_back(stub, custom)
        stub.add_response(
            "get_distribution_config", {"DistributionConfig": distribution_config("rhp1"), "ETag": "E2"}, {"Id": "D1"}
        )
        assert ensure_site_headers(aws, cfg, outputs("api1")) == "rhp1"
        # A new API (another origin for connect-src): the policy is updated in place.
        policy_read_back(stub, custom)
        stub.add_response(
            "update_response_headers_policy",
            {
                "ResponseHeadersPolicy": {
                    "Id": "rhp1",
                    "LastModifiedTime": now,
                    "ResponseHeadersPolicyConfig": wanted("api2"),
                }
            },
            {"Id": "rhp1", "IfMatch": "P1", "ResponseHeadersPolicyConfig": wanted("api2")},
        )
        stub.add_response(
            "get_distribution_config", {"DistributionConfig": distribution_config("rhp1"), "ETag": "E2"}, {"Id": "D1"}
        )
        assert ensure_site_headers(aws, cfg, outputs("api2")) == "rhp1"
        stub.assert_no_pending_responses()

        # Destroy, the distribution already gone: the OAC, then the policy.
        monkeypatch.setattr(stack, "find_site_distribution", lambda aws, cfg: None)
        stub.add_response(
            "list_origin_access_controls",
            {"OriginAccessControlList": {"Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": 0}},
            {},
        )
        stub.add_response("list_response_headers_policies", listed(wanted("api2")), custom)
        stub.add_response(
            "get_response_headers_policy",
            {
                "ResponseHeadersPolicy": {
                    "Id": "rhp1",
                    "LastModifiedTime": now,
                    "ResponseHeadersPolicyConfig": wanted("api2"),
                },
                "ETag": "P2",
            },
            {"Id": "rhp1"},
        )
        stub.add_response("delete_response_headers_policy", {}, {"Id": "rhp1", "IfMatch": "P2"})
        said = []
        remove_site_distribution(aws, cfg, said.append)
        stub.assert_no_pending_responses()
    assert said == [f"deleted response headers policy {cfg.site_headers_policy}"]


def test_the_processor_s_attempts_and_the_tombstones_follow_what_deploy_configures():
    """Two invariants between deploy and the runtime: the processor gives a file up after Lambda's
    first try and the retries deploy configures (no more, no fewer: a killed run counts), and a
    deleted image's tombstone outlives every late or redriven delivery of its file's event."""
    import boto3
    from botocore.stub import ANY, Stubber

    from bootstrap.stack import ensure_dead_letter_queue, ensure_processor_retries
    from handlers.api import TOMBSTONE_SECONDS
    from handlers.processor import MAX_ATTEMPTS

    sent = {}
    lambda_ = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    sqs = boto3.client("sqs", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")
    lambda_.meta.events.register(
        "provide-client-params.lambda.PutFunctionEventInvokeConfig", lambda params, **_: sent.update(params)
    )
    sqs.meta.events.register("provide-client-params.sqs.CreateQueue", lambda params, **_: sent.update(params))
    with Stubber(lambda_) as lambdas, Stubber(sqs) as queues:
        queues.add_response("create_queue", {"QueueUrl": "https://sqs/q"}, {"QueueName": ANY, "Attributes": ANY})
        queues.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": "arn:aws:sqs:eu-west-1:1:q"}},
            {"QueueUrl": ANY, "AttributeNames": ANY},
        )
        lambdas.add_response("put_function_event_invoke_config", {}, None)
        aws = type("Aws", (), {"lambda_": lambda_, "sqs": sqs})()
        ensure_processor_retries(aws, CFG, ensure_dead_letter_queue(aws, CFG), log=lambda _: None)
    assert MAX_ATTEMPTS == sent["MaximumRetryAttempts"] + 1
    retention = int(sent["Attributes"]["MessageRetentionPeriod"])
    assert TOMBSTONE_SECONDS > max(retention, sent["MaximumEventAgeInSeconds"])
