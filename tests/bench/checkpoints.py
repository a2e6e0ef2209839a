"""`make bench`: what one checkpoint of the emulator's state costs (docs/recovery.md).

Runs with the emulator's interpreter (MiniStack is imported, not served):
`.venv-emulator/bin/python -m tests.bench.checkpoints`. Fills MiniStack's DynamoDB with records
shaped as the processor writes them, and its Cognito with users as `make user` makes them, at
1,000 and 20,000 each, then times bootstrap/emulator_checkpoints.py's own snapshot() (what blocks
the emulator's event loop) and Checkpointer.write() (the thread's), and MiniStack's get_state()
deep copy for comparison. Stdlib and MiniStack only.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time

STATE_DIR = tempfile.mkdtemp(prefix="checkpoint-bench-")
os.environ["PERSIST_STATE"] = "1"
os.environ["STATE_DIR"] = STATE_DIR

from ministack.core import persistence  # noqa: E402  (reads PERSIST_STATE on import)
from ministack.services import cognito, dynamodb  # noqa: E402

from bootstrap.emulator_checkpoints import Checkpointer, snapshot  # noqa: E402

SIZES = (1_000, 20_000)
ETAG = "0123456789abcdef0123456789abcdef"


def record(i: int) -> dict:
    def source(width: int, kind: str) -> dict:
        return {
            "M": {
                "key": {"S": f"{i:032x}/{ETAG}/v3/{width}x{width * 3 // 4}.{kind}"},
                "contentType": {"S": f"image/{kind}"},
                "width": {"N": str(width)},
                "height": {"N": str(width * 3 // 4)},
                "bytes": {"N": "123456"},
            }
        }

    created = f"2026-12-03T10:00:00Z#{i:032x}"
    return {
        "id": {"S": f"{i:032x}"},
        "status": {"S": "processed"},
        "owner": {"S": "a1a1a1a1-0000-4000-8000-000000000001"},
        "ownerEmail": {"S": "someone@example.com"},
        "filename": {"S": "IMG_1234.jpg"},
        "sourceEtag": {"S": ETAG},
        "uploadKey": {"S": f"uploads/{i:032x}"},
        "renditions": {
            "M": {
                f"w{w}": {"M": {"key": {"S": "k"}, "sources": {"L": [source(w, "avif"), source(w, "jpeg")]}}}
                for w in (320, 640, 1280, 1920)
            }
        },
        "placeholder": {"S": "x" * 32},
        "dominantColor": {"S": "#a0b0c0"},
        "facts": {"M": {"takenAt": {"S": "2026:11:28 10:00:00"}, "camera": {"S": "Canon EOS R6"}}},
        "createdAt": {"S": "2026-12-03T10:00:00Z"},
        "updatedAt": {"S": "2026-12-03T10:00:01Z"},
        "listPk": {"S": "all"},
        "createdKey": {"S": created},
        "listedKey": {"S": created},
    }


def dynamodb_call(action: str, data: dict) -> None:
    headers = {"x-amz-target": f"DynamoDB_20120810.{action}"}
    asyncio.run(dynamodb.handle_request("POST", "/", headers, json.dumps(data).encode(), {}))


def fill(target: int) -> None:
    """Grow the table and the pool to `target` records and users."""
    have = dynamodb._tables.get("images", {}).get("ItemCount", 0) if dynamodb._tables.get("images") else 0
    for i in range(have, target):
        dynamodb_call("PutItem", {"TableName": "images", "Item": record(i)})
    pool = fill.pool
    users = len(cognito._user_pools[pool]["_users"])
    for i in range(users, target):
        cognito._admin_create_user(
            {
                "UserPoolId": pool,
                "Username": f"person{i}@example.com",
                "MessageAction": "SUPPRESS",
                "UserAttributes": [{"Name": "email", "Value": f"person{i}@example.com"}],
            }
        )


def measure(key: str, module, checkpointer: Checkpointer) -> dict:
    cpu, started = time.process_time(), time.perf_counter()
    text = snapshot(key, module, persistence)
    taken = time.perf_counter()
    checkpointer.written.clear()
    checkpointer.write(key, text)
    written = time.perf_counter()
    return {
        "on_loop_ms": round((taken - started) * 1000),
        "write_ms": round((written - taken) * 1000),
        "cpu_ms": round((time.process_time() - cpu) * 1000),
        "mb": round(len(text) / 1e6, 2),
    }


def main() -> int:
    dynamodb_call(
        "CreateTable",
        {
            "TableName": "images",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    created = cognito._create_user_pool({"PoolName": "users", "UsernameAttributes": ["email"]})
    fill.pool = json.loads(created[2])["UserPool"]["Id"]
    checkpointer = Checkpointer(STATE_DIR)
    results = {}
    for size in SIZES:
        fill(size)
        started = time.perf_counter()
        dynamodb.get_state()
        deep_copy_ms = round((time.perf_counter() - started) * 1000)
        results[size] = {
            "table": measure("dynamodb", dynamodb, checkpointer) | {"get_state_deep_copy_ms": deep_copy_ms},
            "user_pool": measure("cognito", cognito, checkpointer),
        }
        for name, row in results[size].items():
            print(f"checkpoint, {size:>6} {'records' if name == 'table' else 'users'}: {name} {row}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
