"""One image's story: the correlation id POST /uploads makes travels, bound by the upload policy,
with the file into every log line the processor, the sweep and re-renders write about that image;
a file put straight into the bucket is named by its image id alone."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from handlers import api as api_module
from handlers import processor, processor_lambda, telemetry
from handlers.api import build_app
from handlers.keys import image_id_for_key
from handlers.processor import s3_event
from handlers.records import ImageRecords, record_from_s3
from tests.images import phone_jpeg
from tests.unit.conftest import ALICE, id_token_claims, rest_event
from tests.unit.test_metrics import context

CORRELATION = telemetry.CORRELATION_KEY
REQUEST_ID = "c0ffee00-1111-4222-8333-444455556666"  # API Gateway's id of the POST /uploads request


@pytest.fixture
def stack(aws_env, monkeypatch):
    """The API's and the processor's handlers on moto, and every line they log, in order."""
    settings, clients = aws_env
    monkeypatch.setattr(api_module, "_app", lambda: build_app(settings, clients))
    monkeypatch.setattr(processor_lambda, "_runtime", lambda: (settings, clients))
    written = io.StringIO()
    for logger in (api_module.logger, processor.logger):
        monkeypatch.setattr(logger.registered_handler, "stream", written)

    def lines() -> list[dict]:
        taken = [json.loads(text) for text in written.getvalue().splitlines()]
        written.seek(0)
        written.truncate()
        return taken

    return settings, clients, lines


def post_upload(settings, request_id: str | None = REQUEST_ID) -> dict:
    event = rest_event(
        "POST",
        "/uploads",
        {"filename": "a.jpg", "contentType": "image/jpeg", "size": len(phone_jpeg(320, 240))},
        claims=id_token_claims(ALICE, settings),
    )
    if request_id is None:
        del event["requestContext"]["requestId"]
    else:
        event["requestContext"]["requestId"] = request_id
    response = api_module.handler(event, context("imagepipe-api"))
    assert response["statusCode"] == 201
    return json.loads(response["body"])


def post_the_form(settings, clients, upload: dict, data: bytes) -> tuple:
    """What S3 stores from the browser's POST of the form: the file, and the form's x-amz-meta-*
    fields as its metadata (S3 hands them back lower-cased, without the prefix)."""
    fields = upload["upload"]["fields"]
    metadata = {k.removeprefix("x-amz-meta-"): v for k, v in fields.items() if k.startswith("x-amz-meta-")}
    put = clients.s3.put_object(Bucket=settings.upload_bucket, Key=fields["key"], Body=data, Metadata=metadata)
    return fields["key"], len(data), put["ETag"].strip('"'), put["VersionId"]


def about(lines: list[dict], image_id: str) -> list[dict]:
    return [line for line in lines if line.get("image_id") == image_id]


def test_the_correlation_id_goes_from_post_uploads_into_every_processor_line_about_the_image(stack):
    settings, clients, lines = stack
    upload = post_upload(settings)
    image_id = upload["id"]

    # Bound by the policy like the rest of the metadata: the browser cannot change it.
    fields = upload["upload"]["fields"]
    assert fields["x-amz-meta-correlation-id"] == REQUEST_ID
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert {"x-amz-meta-correlation-id": REQUEST_ID} in policy["conditions"]
    assert ImageRecords(clients.dynamodb, settings.table_name).get(image_id)["correlationId"] == REQUEST_ID
    # The API's lines for that request name the image and the id, the access line too.
    api_lines = lines()
    messages = [line["message"] for line in about(api_lines, image_id)]
    assert messages == ["upload presigned", "request"]
    assert all(line[CORRELATION] == REQUEST_ID for line in about(api_lines, image_id))

    # One event: the upload through the API, then a file put straight into the bucket.
    uploaded = post_the_form(settings, clients, upload, phone_jpeg(320, 240))
    direct = clients.s3.put_object(Bucket=settings.upload_bucket, Key="camera/b.jpg", Body=phone_jpeg(64, 48))
    direct_object = ("camera/b.jpg", 0, direct["ETag"].strip('"'), direct["VersionId"])
    event = s3_event(settings.upload_bucket, uploaded, direct_object)
    assert set(processor_lambda.handler(event, context()).values()) == {"processed"}

    processor_lines = [line for line in lines() if line["service"] == "imagepipe-processor"]
    ours, direct_lines = about(processor_lines, image_id), about(processor_lines, image_id_for_key("camera/b.jpg"))
    assert "image processed" in [line["message"] for line in ours]
    assert all(line[CORRELATION] == REQUEST_ID for line in ours)
    assert "image processed" in [line["message"] for line in direct_lines]
    assert all(CORRELATION not in line for line in direct_lines)  # none of its own, none left over

    # A re-render's lines carry it too (from the record), and the next invocation starts clear.
    assert processor_lambda.handler(processor.rerender_event(image_id, force=True), context())["outcome"] == "processed"
    rerendered = lines()
    assert [line["message"] for line in about(rerendered, image_id)] == ["re-render processed"]
    assert all(line[CORRELATION] == REQUEST_ID for line in about(rerendered, image_id))
    api_module.handler(rest_event("GET", "/images", claims=id_token_claims(ALICE, settings)), context("imagepipe-api"))
    assert all("image_id" not in line and CORRELATION not in line for line in lines())


def test_the_file_carries_it_when_the_record_is_lost(stack):
    """S3 is the truth: the processor reads the id from the file's metadata, and a record rebuilt
    from the file (reconcile) keeps it."""
    settings, clients, lines = stack
    upload = post_upload(settings)
    uploaded = post_the_form(settings, clients, upload, phone_jpeg(64, 48))
    clients.dynamodb.delete_item(TableName=settings.table_name, Key={"id": {"S": upload["id"]}})  # lost
    lines()
    assert processor_lambda.handler(s3_event(settings.upload_bucket, uploaded), context()) == {uploaded[0]: "processed"}
    ours = about(lines(), upload["id"])
    assert ours and all(line[CORRELATION] == REQUEST_ID for line in ours)
    head = clients.s3.head_object(Bucket=settings.upload_bucket, Key=uploaded[0])
    assert record_from_s3(uploaded[0], head, None)["correlationId"] == REQUEST_ID


def test_the_sweep_s_lines_about_a_stuck_upload_carry_its_correlation_id(stack):
    settings, clients, lines = stack
    upload = post_upload(settings)
    image_id = upload["id"]
    uploaded = post_the_form(settings, clients, upload, phone_jpeg(64, 48))
    ImageRecords(clients.dynamodb, settings.table_name).start_processing(
        image_id, uploaded[0], uploaded[2], uploaded[1], "a.jpg", {}, version=uploaded[3]
    )  # then killed
    lines()
    later = datetime.now(UTC) + timedelta(seconds=settings.stuck_after_seconds + 1)
    no_lambda = dataclasses.replace(clients, lambda_=None)  # its re-drive fails, and says so
    assert processor.sweep(settings, no_lambda, now=later) == {image_id: "error"}
    swept = lines()
    assert [(line["message"], line[CORRELATION]) for line in about(swept, image_id)] == [
        ("sweep could not re-drive", REQUEST_ID)
    ]
    assert swept[-1]["message"] == "sweep done" and "image_id" not in swept[-1] and CORRELATION not in swept[-1]


@pytest.mark.parametrize("request_id", [None, "", 'two words"', "x" * 65])
def test_without_a_usable_request_id_the_upload_gets_a_new_correlation_id(stack, request_id):
    settings, clients, _ = stack
    upload = post_upload(settings, request_id)
    made = upload["upload"]["fields"]["x-amz-meta-correlation-id"]
    assert str(uuid.UUID(made)) == made
    assert ImageRecords(clients.dynamodb, settings.table_name).get(upload["id"])["correlationId"] == made
