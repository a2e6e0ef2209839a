"""The metrics the functions write (handlers/telemetry.py declares them, handlers/meter.py writes
them): the embedded-metric JSON the handlers print, read back as CloudWatch would read it, for a
processed photo, a refused file, an unexpected failure, the sweep, a re-render, API requests and
a quota refusal. Every line is checked against the declarations (unit, dimensions)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from handlers import api as api_module
from handlers import processor, processor_lambda, telemetry
from handlers.api import build_app, route_of
from handlers.keys import image_id_for_key
from handlers.meter import Meter
from handlers.processor import s3_event
from handlers.quotas import Quota
from handlers.records import ImageRecords
from tests.hooks import Hooked, s3_goes_away
from tests.images import encode, phone_jpeg, photo
from tests.unit.conftest import ALICE, id_token_claims, processor_invocations, rest_event
from tests.unit.test_processor import put

DECLARED = {metric.name: metric for metric in telemetry.METRICS}


def context(name: str = "imagepipe-processor") -> SimpleNamespace:
    return SimpleNamespace(
        function_name=name,
        memory_limit_in_mb=1536,
        aws_request_id="req-1",
        invoked_function_arn=f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        get_remaining_time_in_millis=lambda: 60_000,
    )


def emf_lines(printed: str) -> list[dict]:
    """The embedded-metric lines among what was printed, each checked against the declarations."""
    lines = [json.loads(text) for text in printed.splitlines() if text.startswith('{"_aws"')]
    for line in lines:
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == processor.meter.namespace == api_module.meter.namespace
        (dimensions,) = directive["Dimensions"]
        for definition in directive["Metrics"]:
            metric = DECLARED[definition["Name"]]
            assert definition["Unit"] == metric.unit, metric.name
            assert sorted(dimensions) == sorted(("service", *metric.dimensions)), metric.name
            assert all(isinstance(line[name], str) and line[name] for name in dimensions)
    return lines


def samples(lines: list[dict], metric: telemetry.Metric) -> list[tuple[dict, list[float]]]:
    """(dimensions beyond service, values) of each line carrying `metric`."""
    found = []
    for line in lines:
        if metric.name in line:
            values = line[metric.name]
            found.append(
                ({name: line[name] for name in metric.dimensions}, values if isinstance(values, list) else [values])
            )
    return found


def values(lines: list[dict], metric: telemetry.Metric) -> list[float]:
    return [value for _, line_values in samples(lines, metric) for value in line_values]


@pytest.fixture
def processor_env(aws_env, monkeypatch):
    settings, clients = aws_env
    monkeypatch.setattr(processor_lambda, "_runtime", lambda: (settings, clients))
    processor.meter.invocation.clear_metrics()  # nothing left over from a test that never flushed
    return settings, clients


def test_one_event_of_photos_and_a_refused_file_counts_each_image_once(processor_env, capsys):
    """Three files in one invocation: two photos (one through the API, one put straight into the
    bucket) and a text file: one line for the invocation, a sample per photo, the refusal's code
    on a line of its own."""
    settings, clients = processor_env
    records = ImageRecords(clients.dynamodb, settings.table_name)
    uploaded_at = (datetime.now(UTC) - timedelta(seconds=30)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    records.create_pending("a" * 32, "a.jpg", "image/jpeg", 1, "owner-sub", None, 2**31, created_at=uploaded_at)
    through_api = put(settings, clients, "uploads/" + "a" * 32, phone_jpeg(640, 480))
    direct = put(settings, clients, "camera/b.png", encode(photo(300, 200), "PNG"))
    refused = put(settings, clients, "uploads/" + "c" * 32, b"not an image at all")
    capsys.readouterr()

    event = s3_event(settings.upload_bucket, through_api, direct, refused)
    assert processor_lambda.handler(event, context()) == {
        through_api[0]: "processed",
        direct[0]: "processed",
        refused[0]: "failed",
    }
    lines = emf_lines(capsys.readouterr().out)

    invocation = [line for line in lines if telemetry.PHOTOS_PROCESSED.name in line]
    assert len(invocation) == 1 and invocation[0]["service"] == telemetry.PROCESSOR_SERVICE
    assert "code" not in invocation[0]  # the refusal's dimension stays on its own line
    assert values(lines, telemetry.PHOTOS_PROCESSED) == [1, 1]
    assert values(lines, telemetry.SOURCE_BYTES) == [through_api[1], direct[1]]
    stored = clients.s3.list_objects_v2(Bucket=settings.processed_bucket)["Contents"]
    written = [
        sum(o["Size"] for o in stored if o["Key"].startswith(f"{image_id}/") and not o["Key"].endswith(".json"))
        for image_id in ("a" * 32, image_id_for_key(direct[0]))
    ]
    assert values(lines, telemetry.RENDITION_BYTES) == written  # every file once, as S3 holds them
    assert all(0 < used < 100 for used in values(lines, telemetry.DECODE_BUDGET_USED))
    assert len(values(lines, telemetry.DECODE_BUDGET_USED)) == 2
    assert all(ms > 0 for ms in values(lines, telemetry.PROCESSING_TIME))
    assert len(values(lines, telemetry.PROCESSING_TIME)) == 2
    # Only the upload through the API waited for a form: 30 s ago, and the processing since.
    (waited,) = values(lines, telemetry.UPLOAD_TO_READY)
    assert 30_000 <= waited < 120_000
    assert values(lines, telemetry.PHOTOS_REFUSED) == [1]
    assert samples(lines, telemetry.REFUSALS_BY_CODE) == [({"code": "not_an_image"}, [1])]
    assert values(lines, telemetry.PROCESSING_FAILED) == []


def test_a_copy_of_the_owner_s_photo_is_counted_by_its_code_and_not_toward_the_refusal_alarm(processor_env, capsys):
    """An older client re-sending an album is no attack: `refusal-spike` watches PhotosRefused."""
    from tests.unit.test_duplicates import PHOTO, SHA, direct_put, upload

    settings, clients = processor_env
    first = upload(settings, clients, "c" * 32, PHOTO, ALICE["sub"], SHA)
    copy = direct_put(settings, clients, "old-client/IMG_1.jpg", PHOTO, ALICE["sub"])
    processor_lambda.handler(s3_event(settings.upload_bucket, first), context())
    capsys.readouterr()
    assert processor_lambda.handler(s3_event(settings.upload_bucket, copy), context()) == {copy[0]: "failed"}
    lines = emf_lines(capsys.readouterr().out)
    assert samples(lines, telemetry.REFUSALS_BY_CODE) == [({"code": "duplicate"}, [1])]
    assert values(lines, telemetry.PHOTOS_REFUSED) == []


def test_an_unexpected_failure_is_counted_and_written_though_the_invocation_raises(processor_env, capsys):
    settings, clients = processor_env
    obj = put(settings, clients, "uploads/" + "d" * 32, phone_jpeg(320, 240))
    flaky = dataclasses.replace(clients, s3=Hooked(clients.s3, before={"put_object": s3_goes_away}))
    processor_lambda._runtime = lambda: (settings, flaky)  # restored by monkeypatch (processor_env)
    capsys.readouterr()
    with pytest.raises(ConnectionError):  # raised so that Lambda retries the event
        processor_lambda.handler(s3_event(settings.upload_bucket, obj), context())
    lines = emf_lines(capsys.readouterr().out)
    assert values(lines, telemetry.PROCESSING_FAILED) == [1]
    assert values(lines, telemetry.PHOTOS_PROCESSED) == values(lines, telemetry.PHOTOS_REFUSED) == []


def test_the_sweep_reports_what_it_re_drove_and_the_oldest_upload_still_waiting(processor_env, capsys):
    """Upload forms never used are older than the stuck upload, but no file of theirs waits: their
    age is not the pipeline's (it would keep the stuck-uploads alarm firing over closed tabs)."""
    settings, clients = processor_env
    settings = dataclasses.replace(settings, function_name="imagepipe-processor")
    clients, sent = processor_invocations(clients)
    records = ImageRecords(clients.dynamodb, settings.table_name)
    now = datetime.now(UTC)

    def form(image_id: str, age: timedelta) -> None:
        created_at = (now - age).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        records.create_pending(image_id, "a.jpg", "image/jpeg", 10, "o", None, 2**31, created_at=created_at)

    form("6" * 32, timedelta(hours=3))  # abandoned by the first run
    form("7" * 32, timedelta(minutes=40))  # not used (yet)
    form("4" * 32, timedelta(minutes=20))
    stuck = put(settings, clients, "uploads/" + "4" * 32, phone_jpeg(64, 48))
    records.start_processing("4" * 32, stuck[0], stuck[2], stuck[1], "stuck.jpg", {})  # then killed

    def run(at: datetime) -> tuple[dict, list[dict]]:
        capsys.readouterr()
        outcomes = processor.sweep(settings, clients, now=at)
        processor.meter.invocation.flush_metrics()  # what the handler's log_metrics does at its end
        return outcomes, emf_lines(capsys.readouterr().out)

    outcomes, lines = run(now)  # the claim is younger than STUCK_AFTER_SECONDS: not judged yet
    assert outcomes == {"6" * 32: "abandoned", "7" * 32: "no-object"}
    assert values(lines, telemetry.SWEEP_REDRIVEN) == [0]
    assert values(lines, telemetry.OLDEST_UNFINISHED) == [pytest.approx(20 * 60, abs=0.01)]

    later = now + timedelta(seconds=settings.stuck_after_seconds + 1)
    outcomes, lines = run(later)
    assert outcomes == {"7" * 32: "no-object", "4" * 32: "redriven"} and len(sent) == 1
    assert values(lines, telemetry.SWEEP_REDRIVEN) == [1]
    assert values(lines, telemetry.OLDEST_UNFINISHED) == [pytest.approx(35 * 60 + 1, abs=0.01)]

    processor.process_event(sent[0], settings, clients)  # the re-drive finishes it
    _, lines = run(later)
    assert values(lines, telemetry.OLDEST_UNFINISHED) == [0]  # nothing waits


def test_a_re_render_is_counted_by_its_outcome(processor_env, capsys):
    settings, clients = processor_env
    capsys.readouterr()
    assert processor_lambda.handler(processor.rerender_event("1" * 32), context()) == {
        "id": "1" * 32,
        "outcome": "current",
    }
    lines = emf_lines(capsys.readouterr().out)
    assert samples(lines, telemetry.RERENDERS) == [({"outcome": "current"}, [1])]


def test_the_first_invocation_of_an_environment_is_a_cold_start(processor_env, capsys, monkeypatch):
    monkeypatch.setattr(cold_start, "is_cold_start", True)
    capsys.readouterr()
    processor_lambda.handler(processor.rerender_event("1" * 32), context("imagepipe-processor"))
    processor_lambda.handler(processor.rerender_event("1" * 32), context("imagepipe-processor"))
    lines = emf_lines(capsys.readouterr().out)
    assert samples(lines, telemetry.COLD_START) == [({"function_name": "imagepipe-processor"}, [1])]


@pytest.fixture
def api(aws_env, monkeypatch):
    """api.handler, as Lambda calls it, on moto: `serve(event[, settings])`."""
    settings, clients = aws_env

    def serve(event, settings=settings):
        monkeypatch.setattr(api_module, "_app", lambda: build_app(settings, clients))
        return api_module.handler(event, context("imagepipe-api"))

    api_module.meter.invocation.clear_metrics()  # nothing left over from the tests that skip the handler
    return settings, serve


def test_each_api_request_is_counted_by_route_template_and_status(api, capsys):
    settings, serve = api
    claims = id_token_claims(ALICE, settings)
    upload = {"filename": "a.jpg", "contentType": "image/jpeg", "size": 10}
    capsys.readouterr()
    assert serve(rest_event("POST", "/uploads", upload, claims=claims))["statusCode"] == 201
    assert serve(rest_event("GET", "/images/" + "e" * 32, claims=claims))["statusCode"] == 404
    assert serve(rest_event("DELETE", "/images/" + "e" * 32, claims=claims))["statusCode"] == 404
    assert serve(rest_event("PUT", "/images", claims=claims))["statusCode"] == 405
    assert serve(rest_event("GET", "/wp-admin/" + "f" * 32, claims=claims))["statusCode"] == 404
    printed = capsys.readouterr().out
    assert samples(emf_lines(printed), telemetry.API_REQUESTS) == [
        ({"route": "POST /uploads", "status": "201"}, [1]),
        ({"route": "GET /images/{id}", "status": "404"}, [1]),
        ({"route": "DELETE /images/{id}", "status": "404"}, [1]),
        ({"route": "PUT /images", "status": "405"}, [1]),
        ({"route": "GET other", "status": "404"}, [1]),
    ]
    assert all(line["service"] == telemetry.API_SERVICE for line in emf_lines(printed))
    assert "e" * 32 not in printed and "f" * 32 not in printed  # never a path with an id


def test_a_quota_refusal_is_counted(api, capsys):
    settings, serve = api
    tight = dataclasses.replace(settings, quota=Quota(uploads_per_day=1, bytes=10**9))
    upload = {"filename": "a.jpg", "contentType": "image/jpeg", "size": 10}
    claims = id_token_claims(ALICE, settings)
    capsys.readouterr()
    assert serve(rest_event("POST", "/uploads", upload, claims=claims), tight)["statusCode"] == 201
    assert serve(rest_event("POST", "/uploads", upload, claims=claims), tight)["statusCode"] == 429
    lines = emf_lines(capsys.readouterr().out)
    assert values(lines, telemetry.QUOTA_REFUSALS) == [1]
    assert samples(lines, telemetry.API_REQUESTS)[-1] == ({"route": "POST /uploads", "status": "429"}, [1])


@pytest.mark.parametrize(
    "method, path, route",
    [
        ("POST", "/uploads/", "POST /uploads"),
        ("GET", "/images", "GET /images"),
        ("OPTIONS", "/images/abc", "OPTIONS /images/{id}"),
        ("BREW", "/images/abc", "OTHER /images/{id}"),  # whatever a client sends, few values
        (None, None, "OTHER other"),
    ],
)
def test_a_route_is_its_template(method, path, route):
    assert route_of(method, path) == route


def test_the_namespace_and_service_are_deploy_s_else_the_default_stack_s_and_the_function_s(monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME", raising=False)
    unset = Meter(telemetry.PROCESSOR_SERVICE, processor.logger)
    assert (unset.namespace, unset.service) == (telemetry.FALLBACK_NAMESPACE, "processor")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "stack-b")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "api")
    deployed = Meter(telemetry.PROCESSOR_SERVICE, processor.logger)
    assert (deployed.namespace, deployed.service) == ("stack-b", "api")


def test_a_metric_never_fails_what_it_measures(capsys, monkeypatch):
    """A bad value or dimension is logged and dropped; the other metrics are written as ever."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "stack-b")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "api")
    warned = []
    meter = Meter("processor", SimpleNamespace(warning=lambda message, extra: warned.append(extra["metric"])))
    meter.record(telemetry.PHOTOS_PROCESSED, float("nan"))
    meter.record(telemetry.PHOTOS_PROCESSED, "1")
    meter.record(telemetry.REFUSALS_BY_CODE, 1)  # its `code` missing
    meter.record(telemetry.PHOTOS_REFUSED, 1, code="x")  # a dimension it does not have
    meter.record(telemetry.REFUSALS_BY_CODE, 1, code="  ")  # an empty value: written as "none"
    meter.record(telemetry.PHOTOS_PROCESSED, 2)
    meter.invocation.flush_metrics()
    meter.invocation.flush_metrics()  # nothing left: no empty line
    assert warned == ["PhotosProcessed", "PhotosProcessed", "RefusalsByCode", "PhotosRefused"]
    lines = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert [line["_aws"]["CloudWatchMetrics"][0]["Namespace"] for line in lines] == ["stack-b", "stack-b"]
    assert [
        (line["service"], line.get("code"), line.get("RefusalsByCode"), line.get("PhotosProcessed")) for line in lines
    ] == [
        ("api", "none", [1.0], None),
        ("api", None, None, [2.0]),
    ]
