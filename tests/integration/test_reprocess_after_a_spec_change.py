"""User story: I change the rendition spec (bigger thumbnails), deploy, and run `make reprocess`:
every photo made with the old spec is re-rendered once, the gallery keeps showing every photo
while it runs, the old files go, and running it again does nothing.

Through the real emulator: the batch state machine (a distributed Map over `uploads/`) hands the
keys to the processor Lambda; `--id` and `--local` invoke the processor from the CLI.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading

import pytest
import requests

from bootstrap.local import deploy_into
from bootstrap.package import ROOT
from tests.images import encode, phone_jpeg, photo
from tests.stack import deploy_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory):
    """A stack of its own: `reprocess` re-renders every image of a stack."""
    with deploy_stack(tmp_path_factory.mktemp("reprocess")) as stack:
        yield stack


def reprocess(stack, *args: str) -> str:
    return reprocess_like(stack, "reprocess", *args)


def reprocess_like(stack, command: str, *args: str) -> str:
    """`make reprocess` or `make reconcile` against the stack; what it said on stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "bootstrap", command, *args],
        env={**os.environ, "IMAGEPIPE_STATE_DIR": str(stack.state), "AWS_ENDPOINT_URL": stack.endpoint},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stderr


def spec_versions(stack) -> dict[str, str]:
    table = stack.client("dynamodb")
    items = table.scan(TableName=stack.outputs["table"])["Items"]
    processed = [i for i in items if i.get("status", {}).get("S") == "processed"]
    return {i["id"]["S"]: i.get("specVersion", {}).get("S") for i in processed}


def test_a_spec_change_re_renders_every_old_photo_once_while_the_gallery_keeps_working(own_stack):
    stack = own_stack
    ids = [stack.upload(phone_jpeg(900 + 100 * i, 600), f"p{i}.jpg", "image/jpeg")["id"] for i in range(3)]
    ids.append(stack.upload(encode(photo(500, 500), "PNG"), "square.png", "image/png")["id"])
    refused = stack.upload(b"not an image, but a jpeg by name", "broken.jpg", "image/jpeg")["id"]
    before = {i: stack.wait_final(i) for i in [*ids, refused]}
    assert all(before[i]["status"] == "processed" for i in ids) and before[refused]["status"] == "failed"
    thumbs = [before[i]["renditions"]["thumbnail"] for i in ids]
    assert {max(t["width"], t["height"]) for t in thumbs} == {320}
    old_versions = spec_versions(stack)

    with stack.function_env("processor", RENDITION_SIZES="preview=1024,thumbnail=400"):
        broken: list[str] = []
        running = threading.Event()
        running.set()

        def loads(image: dict) -> bool:
            thumb = image["renditions"]["thumbnail"]["sources"][0]["url"]
            return image["status"] == "processed" and requests.get(thumb, timeout=10).status_code == 200

        def browse():  # the page, polling the gallery while reprocess runs
            while running.is_set():
                for item in stack.http.get(f"{stack.api}/images", params={"limit": "100"}).json()["items"]:
                    # A URL listed just before its image was re-rendered may be gone when fetched
                    # (the page then asks for the image again, as for an expired URL): the image
                    # as the API shows it now must load.
                    if item["id"] != refused and not loads(item) and not loads(stack.image(item["id"])):
                        broken.append(f"{item['id']}: {item['status']}")

        watcher = threading.Thread(target=browse, daemon=True)
        watcher.start()
        try:
            said = reprocess(stack)
        finally:
            running.clear()
            watcher.join(30)
        assert "reprocess: started reprocess-" in said, said  # on the state machine
        assert "reprocess: 1 current, 4 processed; 0 failed" in said, said
        assert "5/5 items, 0 failed" in said  # the progress bar, from the Map Run's counts
        assert broken == [], broken[:5]

        after = {i: stack.image(i) for i in ids}
        for image_id in ids:
            thumb = after[image_id]["renditions"]["thumbnail"]
            assert max(thumb["width"], thumb["height"]) == 400
            assert set(after[image_id]["renditions"]) == {"preview", "thumbnail"}
            assert [s["contentType"] for s in thumb["sources"]] == ["image/avif", "image/jpeg"]
            old_thumb = before[image_id]["renditions"]["thumbnail"]["sources"][0]["url"]
            assert requests.get(old_thumb, timeout=10).status_code == 404  # the old files are gone
            for source in thumb["sources"]:
                assert requests.get(source["url"], timeout=10).status_code == 200
        versions = spec_versions(stack)
        assert len({versions[i] for i in ids}) == 1 and all(versions[i] != old_versions[i] for i in ids)
        assert stack.image(refused)["status"] == "failed"  # nothing to re-render there

        # Idempotent and resumable: what is made with the current spec is skipped.
        assert "reprocess: 5 current; 0 failed" in reprocess(stack)
        assert spec_versions(stack) == versions
        # One image on request, whatever its spec.
        assert "1 processed" in reprocess(stack, "--id", ids[0])


def executions(stack) -> list[dict]:
    sfn = stack.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=stack.outputs["batchStateMachine"])["executions"]


def processed_records(stack) -> dict[str, dict]:
    items = stack.client("dynamodb").scan(TableName=stack.outputs["table"])["Items"]
    return {i["id"]["S"]: i for i in items if i.get("status", {}).get("S") == "processed"}


def test_an_interrupted_run_is_followed_again_never_started_twice(own_stack):
    """Ctrl-C leaves the run going; the same command again follows that very run."""
    stack = own_stack
    big = [stack.upload(phone_jpeg(3000, 2000), f"big{i}.jpg", "image/jpeg")["id"] for i in range(12)]
    assert all(stack.wait_final(i)["status"] == "processed" for i in big)
    before = processed_records(stack)
    known = {e["name"] for e in executions(stack)}
    sfn = stack.client("stepfunctions")

    # A slower AVIF effort: a run long enough to be interrupted and taken up while it goes.
    with stack.function_env("processor", AVIF_SPEED="4"):
        first = subprocess.Popen(
            [sys.executable, "-m", "bootstrap", "reprocess", "--all"],
            env={**os.environ, "IMAGEPIPE_STATE_DIR": str(stack.state), "AWS_ENDPOINT_URL": stack.endpoint},
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        said_first = ""
        while " items" not in said_first:  # started, and following it: the progress bar
            said_first += first.stderr.read(1) or pytest.fail(f"the command ended: {said_first}")
        name = said_first.split("reprocess: started ", 1)[1].split()[0]
        first.send_signal(signal.SIGINT)  # the operator's Ctrl-C
        rest = first.communicate(timeout=60)[1]
        assert first.returncode == 130 and "left running" in rest, rest
        (run,) = [e for e in executions(stack) if e["name"] == name]
        assert sfn.describe_execution(executionArn=run["executionArn"])["status"] == "RUNNING"

        said = reprocess(stack, "--all")
    assert f"following the run already going: {name}" in said, said
    assert {e["name"] for e in executions(stack)} - known == {name}  # one run, not two
    after = processed_records(stack)
    assert all(after[i]["updatedAt"]["S"] > before[i]["updatedAt"]["S"] for i in before)  # every image re-made


def test_an_image_that_cannot_be_re_rendered_is_listed_and_the_others_complete(own_stack):
    stack = own_stack
    dynamodb = stack.client("dynamodb")
    before = processed_records(stack)
    broken = sorted(before)[0]
    etag = before[broken]["sourceEtag"]
    dynamodb.update_item(
        TableName=stack.outputs["table"], Key={"id": {"S": broken}}, UpdateExpression="REMOVE sourceEtag"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bootstrap", "reprocess", "--all"],
            env={**os.environ, "IMAGEPIPE_STATE_DIR": str(stack.state), "AWS_ENDPOINT_URL": stack.endpoint},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        dynamodb.update_item(
            TableName=stack.outputs["table"],
            Key={"id": {"S": broken}},
            UpdateExpression="SET sourceEtag = :e",
            ExpressionAttributeValues={":e": etag},
        )
    assert done.returncode == 1, done.stderr  # something failed: the command says so
    assert f"failed: {broken}: KeyError" in done.stderr and "; 1 failed" in done.stderr, done.stderr
    after = processed_records(stack)
    others = set(before) - {broken}
    assert all(after[i]["updatedAt"]["S"] > before[i]["updatedAt"]["S"] for i in others)
    # The run's summary, in the processed bucket: the counts and the id that failed.
    key = done.stderr.split("the summary: ", 1)[1].split(" ", 1)[0]
    summary = json.loads(stack.s3().get_object(Bucket=stack.outputs["processedBucket"], Key=key)["Body"].read())
    assert summary["failedCount"] == 1 and [f["id"] for f in summary["failed"]] == [broken]
    assert summary["outcomes"]["processed"] == len(others)


def test_reconcile_on_the_state_machine_rebuilds_a_lost_table(own_stack):
    """The table is lost; deploy makes it again, empty; `make reconcile` rebuilds every record."""
    stack = own_stack
    dynamodb = stack.client("dynamodb")
    deleted = sorted(processed_records(stack))[-1]
    assert stack.http.delete(f"{stack.api}/images/{deleted}").status_code == 204  # its tombstone goes with the table
    before = processed_records(stack)
    dynamodb.delete_table(TableName=stack.outputs["table"])
    dynamodb.get_waiter("table_not_exists").wait(TableName=stack.outputs["table"])
    deploy_into(
        "embedded",
        stack.state,
        {"AWS_ENDPOINT_URL": stack.endpoint, "SITE_URL": stack.site_url, "QUOTA_UPLOADS_PER_DAY": "100000"},
    )
    assert processed_records(stack) == {}

    said = reprocess_like(stack, "reconcile")
    assert "reconcile: started reconcile-" in said, said
    rebuilt = processed_records(stack)
    assert set(rebuilt) == set(before) and deleted not in rebuilt  # a deleted image is not brought back
    for image_id in before:  # the gallery shows them again, with renditions that load
        image = stack.image(image_id)
        assert image["status"] == "processed"
        assert requests.get(image["renditions"]["thumbnail"]["sources"][0]["url"], timeout=10).status_code == 200


def run_command(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bootstrap", *args],
        env={**os.environ, "IMAGEPIPE_STATE_DIR": str(stack.state), "AWS_ENDPOINT_URL": stack.endpoint},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@contextlib.contextmanager
def handler_of(stack, role: str, handler: str):
    """A deploy gone wrong: the function's entry point changed for the duration."""
    lam = stack.client("lambda")
    name = stack.outputs["functions"][role]
    before = lam.get_function_configuration(FunctionName=name)["Handler"]
    lam.update_function_configuration(FunctionName=name, Handler=handler)
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    try:
        yield
    finally:
        lam.update_function_configuration(FunctionName=name, Handler=before)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)


def test_a_processor_that_cannot_read_its_settings_gets_no_run(own_stack):
    with own_stack.function_env("processor", MAX_DECODE_MB="a typo"):
        done = run_command(own_stack, "reprocess", "--all")
    assert done.returncode == 1 and "reprocess: nothing started:" in done.stderr and "a typo" in done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_a_run_whose_children_fail_fails_and_fires_the_batch_failed_alarm(own_stack):
    """A deploy broke the processor (an entry point that does not exist): every child of the run
    fails whole, the run fails, the command says so, and the alarm deploy made goes to ALARM."""
    stack = own_stack
    prefix = stack.outputs["apiEnvironment"]["POWERTOOLS_METRICS_NAMESPACE"]
    alarm = f"{prefix}-batch-failed"
    cloudwatch = stack.client("cloudwatch")
    assert cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] != "ALARM"
    with handler_of(stack, "processor", "handlers.no_such_module.handler"):
        done = run_command(stack, "reprocess", "--all")
    assert done.returncode == 1, done.stderr
    assert "reprocess: the run failed: States.ExceedToleratedFailureThreshold" in done.stderr, done.stderr
    # The failed execution is counted (AWS/States) the moment it ends, and the alarm evaluated then.
    state = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    assert state["StateValue"] == "ALARM", state
