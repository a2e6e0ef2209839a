"""Events as AWS delivers them, one JSON file each (Powertools' habit): a test's builder loads
one and fills in what that test is about, so every event a handler gets in the tests has the
full shape of the real one.

- `apigw_rest_proxy.json`: API Gateway REST API, Lambda proxy integration on `ANY /{proxy+}`,
  stage `v1`, behind the Cognito authorizer (its claims as strings); `tests.unit.conftest.rest_event`.
- `s3_object_created.json`: an S3 `ObjectCreated` notification (key URL-encoded); the one
  builder is production code, `handlers.processor.s3_event`, checked against this file.
- `eventbridge_scheduled.json`: an EventBridge scheduled event, as for the sweep.
- `batch_items_aws.json`, `batch_item_emulator.json`: what a child of the batch state machine
  hands the processor: a batch (`ItemBatcher` on AWS) and a bare item (the emulator ignores the
  batcher); `batch_summary.json`: the summary step's event where ResultWriter wrote the results
  (AWS), with `batch_results_manifest.json` and one result entry, `batch_results_entry.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent


def load_event(name: str) -> dict:
    """A fresh copy of the event `<name>.json` (change it at will)."""
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
