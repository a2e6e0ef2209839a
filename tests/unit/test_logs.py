"""bootstrap/logs.py (`make logs ID=`): one image's lines from the API's and the processor's log
groups, merged in time order, against a stubbed CloudWatch Logs client (botocore's Stubber: the
calls are checked against the service's model, nothing is sent)."""

from __future__ import annotations

from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber

import bootstrap.__main__ as bootstrap_main
from bootstrap.logs import MAX_PAGES, image_lines, log_groups, print_story

IMAGE = "0123456789abcdef0123456789abcdef"
OUTPUTS = {"functions": {"api": "stack-api", "processor": "stack-processor"}}
API, PROCESSOR = "/aws/lambda/stack-api", "/aws/lambda/stack-processor"


def event(timestamp: int, message: str) -> dict:
    return {
        "timestamp": timestamp,
        "message": message,
        "logStreamName": "s",
        "ingestionTime": timestamp,
        "eventId": "e",
    }


@pytest.fixture
def logs():
    client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def answer(logs, group: str, events: list[dict], token: str | None = None, after: str | None = None) -> None:
    """The next FilterLogEvents answer: asked of `group` for the image's id as a quoted term."""
    expected = {"logGroupName": group, "filterPattern": f'"{IMAGE}"'} | ({"nextToken": after} if after else {})
    logs.stubber.add_response(
        "filter_log_events", {"events": events} | ({"nextToken": token} if token else {}), expected
    )


def test_the_functions_lines_are_merged_in_time_order_keeping_each_service_s_order_for_equal_times(logs):
    answer(logs, API, [event(1_000, "api: upload presigned"), event(1_000, "api: request"), event(9_000, "api: GET")])
    # The processor's lines come in two pages; one invocation's lines share one time (the embedded
    # emulator stamps them so): their order is the service's, and the API's come first.
    answer(logs, PROCESSOR, [event(9_000, "p: claimed"), event(9_000, "p: processed")], token="t1")
    answer(logs, PROCESSOR, [event(5_000, "p: retried\n")], after="t1")
    lines, cut = image_lines(logs, log_groups(OUTPUTS), IMAGE)
    assert not cut
    assert [(line.function, line.message) for line in lines] == [
        ("api", "api: upload presigned"),
        ("api", "api: request"),
        ("processor", "p: retried"),
        ("api", "api: GET"),
        ("processor", "p: claimed"),
        ("processor", "p: processed"),
    ]
    assert lines[0].show(9) == "1970-01-01T00:00:01.000Z api       api: upload presigned"


def test_the_events_function_s_lines_are_part_of_the_story(logs):
    outputs = {"functions": OUTPUTS["functions"] | {"events": "stack-events"}}
    answer(logs, API, [])
    answer(logs, PROCESSOR, [event(9_000, "p: processed")])
    answer(logs, "/aws/lambda/stack-events", [event(9_200, "image event sent")])
    lines, _ = image_lines(logs, log_groups(outputs), IMAGE)
    assert [(line.function, line.message) for line in lines] == [
        ("processor", "p: processed"),
        ("events", "image event sent"),
    ]


def test_the_pages_are_bounded(logs):
    answer(logs, API, [], token="a1")
    answer(logs, API, [event(1, "x")], token="a2", after="a1")
    answer(logs, PROCESSOR, [], token="p1")
    answer(logs, PROCESSOR, [], token="p2", after="p1")
    lines, cut = image_lines(logs, log_groups(OUTPUTS), IMAGE, max_pages=2)
    assert cut and [line.message for line in lines] == ["x"]
    assert MAX_PAGES >= 10


def test_a_function_never_invoked_has_no_log_group_and_no_lines(logs):
    logs.stubber.add_client_error("filter_log_events", "ResourceNotFoundException", http_status_code=400)
    answer(logs, PROCESSOR, [event(2, "p")])
    lines, _ = image_lines(logs, log_groups(OUTPUTS), IMAGE)
    assert [line.function for line in lines] == ["processor"]


@pytest.mark.parametrize("image_id", ["", "0123", IMAGE.upper(), f'{IMAGE}" OR "', f"{IMAGE} x"])
def test_only_an_image_id_goes_into_the_filter_pattern(logs, image_id):
    said = []
    assert print_story(logs, OUTPUTS, image_id, said.append, out=said.append) == 2  # and no call was made
    assert "not an image id" in said[0]


def test_the_command_prints_the_story_and_says_when_there_is_none(logs, monkeypatch, capsys):
    monkeypatch.setattr(bootstrap_main, "deployed_stack", lambda args, log: (SimpleNamespace(logs=logs), OUTPUTS))
    answer(logs, API, [event(1_700_000_000_123, '{"message":"request"}')])
    answer(logs, PROCESSOR, [event(1_700_000_000_456, '{"message":"image processed"}')])
    assert bootstrap_main.main(["logs", "--id", IMAGE]) == 0
    printed = capsys.readouterr()
    assert printed.out.splitlines() == [
        '2023-11-14T22:13:20.123Z api       {"message":"request"}',
        '2023-11-14T22:13:20.456Z processor {"message":"image processed"}',
    ]
    assert printed.err == f"2 line(s) name image {IMAGE} in {API}, {PROCESSOR}\n"
    answer(logs, API, [])
    answer(logs, PROCESSOR, [])
    assert bootstrap_main.main(["logs", "--id", IMAGE]) == 1
    assert capsys.readouterr().out == ""
    assert bootstrap_main.main(["logs"]) == 2  # --id is required


def test_a_line_never_sends_control_characters_to_the_terminal():
    from bootstrap.logs import LogLine

    shown = LogLine(0, "api", "GET /images/\x1b]0;owned\x07 \x9b2J done").show()
    assert shown.endswith("GET /images/\ufffd]0;owned\ufffd \ufffd2J done")
    assert all(c.isprintable() for c in shown)
