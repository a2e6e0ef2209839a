"""The processor's dead-letter queue: what failed after every retry, and sending it back.

python -m bootstrap.deadletters list      one line per failed event: when, error, keys
python -m bootstrap.deadletters redrive   invoke the processor again with each event, then drop it

Uses the last deploy's outputs ($IMAGEPIPE_STATE_DIR/outputs.json).
"""

from __future__ import annotations

import json
import sys
from urllib.parse import unquote_plus

import boto3

from bootstrap.outputs import local_credentials, read_outputs


def _clients(outputs: dict):
    credentials = local_credentials(outputs.get("target", "embedded")) if outputs.get("endpointUrl") else None
    keys = dict(zip(("aws_access_key_id", "aws_secret_access_key"), credentials or (), strict=False))
    session = boto3.session.Session(region_name=outputs["region"], **keys)
    return (
        session.client("sqs", endpoint_url=outputs.get("endpointUrl")),
        session.client("lambda", endpoint_url=outputs.get("endpointUrl")),
    )


def _messages(sqs, url: str):
    """Every message currently in the queue, each received once (hidden while we walk the queue)."""
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not batch:
            return
        yield from batch


def _release(sqs, url: str, messages: list[dict]) -> None:
    """Make listed messages visible again at once, so that a redrive right after finds them."""
    for message in messages:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)


def describe(body: dict) -> dict:
    context = body.get("requestContext", {})
    records = (body.get("requestPayload") or {}).get("Records", [])
    return {
        "when": body.get("timestamp"),
        "condition": context.get("condition"),
        "attempts": context.get("approximateInvokeCount"),
        "error": (body.get("responsePayload") or {}).get("errorMessage"),
        "keys": [unquote_plus(r.get("s3", {}).get("object", {}).get("key", "")) for r in records],
    }


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "list"
    outputs = read_outputs()
    sqs, lam = _clients(outputs)
    url = sqs.get_queue_url(QueueName=outputs["deadLetterQueue"])["QueueUrl"]
    count, listed = 0, []
    for message in _messages(sqs, url):
        body = json.loads(message["Body"])
        count += 1
        if command == "list":
            print(json.dumps(describe(body)))
            listed.append(message)
            continue
        payload = body.get("requestPayload")
        if payload is None:
            print(f"skipping a message without requestPayload: {message['MessageId']}", file=sys.stderr)
            continue
        lam.invoke(
            FunctionName=outputs["functions"]["processor"], InvocationType="Event", Payload=json.dumps(payload).encode()
        )
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        print(f"redriven: {', '.join(describe(body)['keys'])}", file=sys.stderr)
    _release(sqs, url, listed)
    print(
        f"{count} message(s) {'in' if command == 'list' else 'sent back from'} {outputs['deadLetterQueue']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
