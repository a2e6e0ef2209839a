"""bootstrap/deploy/plan.py and executor.py: the dry run is the deploy. A first deploy, recorded at
its clients against moto, makes exactly the calls its dry run shows; destroy too; the invariants
between deploy and the runtime are read from those calls."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Call, Executor, call_of, is_read
from bootstrap.package import Platform

CFG = StackConfig(target="aws", region="eu-west-1", endpoint_url=None)


def test_the_processor_s_attempts_and_the_tombstones_follow_what_deploy_configures():
    """Two invariants between deploy and the runtime, read from deploy's own calls: the processor
    gives a file up after Lambda's first try and the retries deploy configures (no more, no fewer: a
    killed run counts), and a deleted image's tombstone outlives every late or redriven delivery."""
    from handlers.api import TOMBSTONE_SECONDS
    from handlers.processor import MAX_ATTEMPTS

    calls = planned_calls(CFG)
    (retries,) = [c.params for c in calls if c.operation == "put_function_event_invoke_config"]
    (queue,) = [c.params for c in calls if c.operation == "create_queue"]
    assert retries["DestinationConfig"]["OnFailure"]["Destination"].endswith(f":{CFG.dead_letter_queue}")
    assert MAX_ATTEMPTS == retries["MaximumRetryAttempts"] + 1
    retention = int(queue["Attributes"]["MessageRetentionPeriod"])
    assert TOMBSTONE_SECONDS > max(retention, retries["MaximumEventAgeInSeconds"])


# --- the dry run is the deploy: the same code, its calls shown instead of sent --------------------


def planned_calls(cfg: StackConfig) -> list:
    from bootstrap.deploy.plan import plan

    return plan(cfg, show=lambda _: None).calls


class RecordingExecutor(Executor):
    """The real executor, each change it sends recorded as boto3 was asked for it."""

    def __init__(self):
        self.calls: list[Call] = []

    def clients(self, cfg):
        made = super().clients(cfg)
        for client in made.values():
            client.meta.events.register("provide-client-params.*.*", self._record)
        return made

    def _record(self, params, model, **_):
        if not is_read(model.name):
            self.calls.append(call_of(model, json.loads(json.dumps(params, default=blob))))


def blob(value) -> str:
    return f"<{len(value)} bytes>" if isinstance(value, bytes) else str(value)


def matches(planned: dict, sent: dict) -> bool:
    """The planned parameters are the sent ones, where each placeholder (`<...>`, a value deploy
    learns from an earlier answer, or the zip the dry run does not build) stands for any text, and
    the dry run's account for an account id."""
    import re

    from bootstrap.deploy.executor import PLACEHOLDER_ACCOUNT

    pattern = re.escape(json.dumps(planned, default=blob, sort_keys=True))
    pattern = re.sub(r"<[^<>]*?>", ".+?", pattern.replace(r"\<", "<").replace(r"\>", ">"))
    pattern = pattern.replace(PLACEHOLDER_ACCOUNT, r"\d{12}")
    return re.fullmatch(pattern, json.dumps(sent, default=blob, sort_keys=True)) is not None


@pytest.fixture
def moto_account(moto, tmp_path):
    """moto's empty account, and a Lambda zip for it."""
    import zipfile

    code = tmp_path / "code.zip"
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("handlers/__init__.py", "")
    return code


# moto has no CloudFront response headers policies nor Lambda account settings: the AWS target is
# recorded without its site and reserved concurrency (their calls are covered by stubbed tests).
# Nor has it API Gateway v2's CreateDeployment: both are recorded without the live status, whose
# calls the emulator answers (tests/integration/test_deploy_aws_path.py, test_live_status.py).
RECORDED_CONFIGS = {
    "embedded": StackConfig(target="embedded", region="eu-west-1", endpoint_url=None, live_status=False),
    "aws": StackConfig(
        target="aws",
        region="eu-west-1",
        endpoint_url=None,
        bucket_suffix="-123456789012-eu-west-1",
        live_status=False,
    ),
}


@pytest.mark.parametrize("target", RECORDED_CONFIGS)
def test_deploy_sends_exactly_the_calls_its_dry_run_shows(moto_account, target):
    """A first deploy, recorded at the clients (every change any code of deploy sends), makes the
    calls the dry run printed, in the same order, with the same parameters; then a destroy makes
    the calls its own dry run printed, and leaves nothing for another."""
    from bootstrap.deploy.plan import deploy, destroy, destroy_plan

    cfg = RECORDED_CONFIGS[target]
    planned = planned_calls(cfg)
    recording = RecordingExecutor()
    outputs = deploy(cfg, moto_account, log=lambda _: None, executor=recording)
    assert [(c.service, c.operation) for c in recording.calls] == [(c.service, c.operation) for c in planned]
    for plan_call, sent in zip(planned, recording.calls, strict=True):
        assert matches(plan_call.params, sent.params), (plan_call.show(), sent.show())
    assert outputs["apiId"] and outputs["userPoolId"] and not outputs["apiId"].startswith("<")
    # The devserver's in-process API runs with exactly the deployed API function's environment.
    from devserver.app import handler_environment

    (deployed,) = [
        c.params["Environment"]["Variables"]
        for c in recording.calls
        if c.operation == "create_function" and c.params["FunctionName"] == cfg.function("api")
    ]
    runtime = {"AWS_REGION": cfg.region, "AWS_DEFAULT_REGION": cfg.region}  # what Lambda adds
    assert handler_environment(outputs) == deployed | runtime

    removals = destroy_plan(cfg, show=lambda _: None).calls
    assert {c.operation for c in removals} >= {"delete_bucket", "delete_table", "delete_function", "delete_user_pool"}
    removed_tables = [c.params["TableName"] for c in removals if c.operation == "delete_table"]
    assert cfg.table in removed_tables and cfg.similar_table in removed_tables  # the near-duplicate index too
    recording = RecordingExecutor()
    destroy(cfg, log=lambda _: None, executor=recording)
    assert [(c.service, c.operation, c.params) for c in recording.calls] == [
        (c.service, c.operation, json.loads(json.dumps(c.params, default=blob))) for c in removals
    ]
    assert destroy_plan(cfg, show=lambda _: None).calls == []  # what deploy made is gone


def test_a_deploy_that_strays_from_its_dry_run_is_caught(moto_account, monkeypatch):
    """The comparison above can fail: a step whose changes hang on what it reads in a way the dry
    run cannot follow (here a tag put only once some bucket exists, read back from the target)
    sends a call the plan never showed."""
    from bootstrap.deploy import storage
    from bootstrap.deploy.plan import deploy

    real = storage.ensure_upload_cors

    def straying(aws, cfg):
        real(aws, cfg)
        if aws.s3.list_buckets()["Buckets"]:
            aws.s3.put_bucket_tagging(Bucket=cfg.upload_bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})

    monkeypatch.setattr(storage, "ensure_upload_cors", straying)
    cfg = RECORDED_CONFIGS["embedded"]
    planned = planned_calls(cfg)
    recording = RecordingExecutor()
    deploy(cfg, moto_account, log=lambda _: None, executor=recording)
    assert "put_bucket_tagging" in [c.operation for c in recording.calls]
    assert "put_bucket_tagging" not in [c.operation for c in planned]


def test_deploy_makes_no_client_of_its_own():
    """Every call goes through the executor's clients (what the recording sees): no module of
    bootstrap/deploy makes a boto3 client or session but the executor's."""
    root = Path(__file__).resolve().parents[2] / "bootstrap" / "deploy"
    for module in root.glob("*.py"):
        text = module.read_text()
        if module.name not in ("executor.py", "config.py"):
            assert "boto3" not in text and ".client(" not in text, module.name


@pytest.mark.parametrize("target", ["embedded", "aws"])
def test_the_dry_run_shows_each_target_s_stack(capsys, deploy_env, target):
    """What each target gets, read from the calls: on AWS the site first (CORS names its origin),
    its headers once the API is known, the page last; point-in-time recovery on AWS only; the
    PreSignUp trigger on local pools only; the function's code is the zip the deploy builds."""
    from bootstrap.__main__ import config_for

    cfg = config_for(target)
    calls = planned_calls(cfg)
    operations = [c.operation for c in calls]
    made = [c.params.get("FunctionName") for c in calls if c.operation == "create_function"]
    if target == "aws":
        assert calls[0].params["Bucket"] == cfg.site_bucket and "create_distribution" in operations
        assert operations.index("create_distribution") < operations.index("put_bucket_cors")
        assert operations.index("create_rest_api") < operations.index("create_response_headers_policy")
        assert operations[-1] == "put_object" and calls[-1].params["Key"] == "config.json"
        assert "update_continuous_backups" in operations
        assert made == [cfg.function(f) for f in ("api", "processor", "events", "live")]
    else:
        assert not any(c.service == "cloudfront" for c in calls) and "update_continuous_backups" not in operations
        assert made == [cfg.function(f) for f in ("presignup", "api", "processor", "events", "live")]
    # The near-duplicate band index, a table of its own (band key, image id), which every function
    # that writes it is told of.
    (similar,) = [
        c.params for c in calls if c.operation == "create_table" and c.params["TableName"] == cfg.similar_table
    ]
    assert [k["AttributeName"] for k in similar["KeySchema"]] == ["band", "id"]
    environments = [c.params["Environment"]["Variables"] for c in calls if c.operation == "create_function"]
    assert all(env["SIMILAR_TABLE"] == cfg.similar_table for env in environments)
    # `python -m bootstrap deploy --dry-run` prints exactly these calls.
    assert main_dry_run(capsys, target) == [f"  {c.show()}" for c in calls]


def main_dry_run(capsys, target: str) -> list[str]:
    from bootstrap.__main__ import main

    capsys.readouterr()
    assert main(["deploy", "--dry-run", "--target", target]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ") and "wait until" not in line]


@pytest.fixture
def deploy_env(monkeypatch, tmp_path):
    """The deploying environment, fixed: no emulator, no AWS, outputs in a temp state dir."""
    for name in ("ALLOWED_ORIGINS", "SITE_URL", "STACK_PREFIX", "AWS_ENDPOINT_URL", "PROCESSOR_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("IMAGEPIPE_STATE_DIR", str(tmp_path))
    return tmp_path


def fake_steps(ran: list[str]):
    from bootstrap.deploy.plan import Step

    def step(name: str, when=lambda cfg: True) -> Step:
        return Step(title=lambda cfg: name, run=lambda d: ran.append(name), when=when)

    return (step("first"), step("site", when=lambda cfg: cfg.site_bucket_enabled), step("second"), step("third"))


@pytest.mark.parametrize(
    "target, expected", [("embedded", ["first", "second", "third"]), ("aws", ["first", "site", "second", "third"])]
)
def test_deploy_counts_the_steps_it_runs_and_the_dry_run_runs_those(capsys, monkeypatch, deploy_env, target, expected):
    import bootstrap.__main__ as cli
    from bootstrap.deploy import plan

    ran: list[str] = []
    monkeypatch.setattr(plan, "DEPLOY_STEPS", fake_steps(ran))
    monkeypatch.setattr(cli, "account_id", lambda: "123456789012")
    monkeypatch.setattr(cli, "lambda_platform", lambda target, arch="x86_64": Platform("3.12", "x86_64"))
    monkeypatch.setattr(cli, "build_zip", lambda platform, build, log: deploy_env / "code.zip")
    (deploy_env / "code.zip").write_bytes(b"zip")
    monkeypatch.setenv("SITE_URL", "https://site.example")
    monkeypatch.setattr(plan, "Aws", lambda cfg, executor=None: SimpleNamespace(account="1", executor=Executor()))

    assert cli.main(["deploy", "--target", target]) == 0
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    n = len(expected)
    assert ran == expected
    assert progress == [f"[0/{n}] packaging Lambda code"] + [f"[{i}/{n}] {name}" for i, name in enumerate(ran, 1)]
    assert json.loads((deploy_env / "outputs.json").read_text())["target"] == target
    ran.clear()
    monkeypatch.setattr(plan, "Aws", lambda cfg, executor=None: SimpleNamespace(account="1", executor=executor))
    assert cli.main(["deploy", "--dry-run", "--target", target]) == 0
    assert ran == expected
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("[")] == progress[1:]


def test_destroy_runs_and_its_dry_run_runs_the_same_removers(capsys, monkeypatch, deploy_env):
    import bootstrap.__main__ as cli
    from bootstrap.deploy import plan
    from bootstrap.deploy.executor import DisplayOnlyExecutor

    ran: list[tuple[str, bool]] = []

    def remover(name: str, when=lambda cfg: True) -> plan.Remover:
        return plan.Remover(name, run=lambda aws, cfg, log: ran.append((name, aws.dry)), when=when)

    monkeypatch.setattr(
        plan, "DESTROY_STEPS", (remover("site", when=lambda cfg: cfg.site_bucket_enabled), remover("api"), remover("b"))
    )
    monkeypatch.setattr(
        plan,
        "Aws",
        lambda cfg, executor=None: SimpleNamespace(
            dry=isinstance(executor, DisplayOnlyExecutor), executor=executor or Executor()
        ),
    )
    monkeypatch.setattr(cli, "account_id", lambda: "123456789012")
    for target in ("embedded", "aws"):
        names = (["site"] if target == "aws" else []) + ["api", "b"]
        ran.clear()
        assert cli.main(["destroy", "--target", target]) == 0
        assert ran == [(name, False) for name in names]
        ran.clear()
        assert cli.main(["destroy", "--dry-run", "--target", target]) == 0
        assert ran == [(name, True) for name in names]


def test_the_deploy_tool_imports_no_lambda_handler():
    """`python -m bootstrap` reads the runtime's declarations (settings, schema, formats, identity's
    rules) and nothing that runs in a Lambda: no handler module, no Powertools. Read from the
    modules' top-level imports, followed through bootstrap/ and handlers/ (the operator commands,
    reconcile and reprocess, import the runtime's repository when they run, not before)."""
    import ast

    root = Path(__file__).resolve().parents[2]

    def top_level_imports(path: Path) -> set[str]:
        found = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
        return found

    def source(name: str) -> Path | None:
        for candidate in (root / (name.replace(".", "/") + ".py"), root / name.replace(".", "/") / "__init__.py"):
            if candidate.exists():
                return candidate
        return None

    reached, todo = {"bootstrap.__main__"}, ["bootstrap.__main__"]
    while todo:
        for name in top_level_imports(source(todo.pop())):
            if name.split(".")[0] in ("bootstrap", "handlers", "aws_lambda_powertools") and name not in reached:
                reached.add(name)
                if source(name):
                    todo.append(name)
    assert "bootstrap.deploy.plan" in reached and "handlers.schema" in reached  # it does follow imports
    assert not any(n.startswith("aws_lambda_powertools") for n in reached), sorted(reached)
    assert reached.isdisjoint({"handlers.api", "handlers.processor", "handlers.presignup", "handlers.relink"})
