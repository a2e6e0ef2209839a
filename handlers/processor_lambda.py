"""The processor Lambda's entry point: which work an event asks for.

- an S3 ObjectCreated event (or one the sweep and reconcile re-drive): process the files
  (handlers.processor);
- the sweep's schedule: re-drive what is stuck;
- `{"action": "rerender", "id": ...}` from `make reprocess --id` and the in-process path;
- a batch from the batch state machine, and its closing summary (handlers.batch).
"""

from __future__ import annotations

from functools import lru_cache

from handlers import batch
from handlers.clients import Clients, make_clients
from handlers.config import Settings
from handlers.keys import ID_PATTERN
from handlers.processor import is_sweep_event, process_event, rerender, sweep
from handlers.processor_telemetry import logger, meter


@lru_cache(maxsize=1)
def _runtime() -> tuple[Settings, Clients]:
    settings = Settings.from_env()
    return settings, make_clients(settings, with_lambda=True)


@logger.inject_lambda_context(clear_state=True)
@meter.log_metrics
def handler(event, context):
    settings, clients = _runtime()
    if is_sweep_event(event):
        return sweep(settings, clients)
    if batch.is_batch_event(event):
        return batch.run_batch(event, settings, clients, context.get_remaining_time_in_millis)
    if event.get("action") == batch.SUMMARY_ACTION:
        return batch.summarize(event, settings, clients, context.get_remaining_time_in_millis)
    if event.get("action") == "rerender":
        if not ID_PATTERN.match(str(event.get("id"))):
            return {"id": event.get("id"), "outcome": "invalid"}
        # The lease outlasts this invocation: a killed run's image is taken up by the next one.
        lease = context.get_remaining_time_in_millis() // 1000 + 30
        return {"id": event["id"], "outcome": rerender(event["id"], settings, clients, lease, bool(event.get("force")))}
    return process_event(event, settings, clients)
