"""The GitHub workflow: every push and pull request runs the suite on the embedded emulator,
which needs no secret; the LocalStack job runs only where its token is available."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ci.yml"


def test_every_push_and_pull_request_runs_the_suite_on_the_embedded_emulator():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert set(workflow[True]) >= {"push", "pull_request"}  # YAML reads the key `on` as True
    embedded = workflow["jobs"]["embedded"]
    assert "secrets." not in WORKFLOW.read_text().split("\n  localstack:")[0]  # nothing it cannot have
    assert "BACKEND" not in embedded.get("env", {})  # the default backend: the embedded emulator
    assert any(step.get("run") == "make test" and "if" not in step for step in embedded["steps"])


def test_the_localstack_job_runs_only_with_its_token():
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["localstack"]
    assert (
        job["env"]["BACKEND"] == "localstack" and "secrets.LOCALSTACK_AUTH_TOKEN" in job["env"]["LOCALSTACK_AUTH_TOKEN"]
    )
    work = [step for step in job["steps"] if "uses" in step or step.get("run") == "make test"]
    assert work and all(step.get("if") == "env.LOCALSTACK_AUTH_TOKEN != ''" for step in work)
