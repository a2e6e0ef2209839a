"""python -m bootstrap reprocess: re-render images made with an older rendition spec.

The spec (sizes, formats, qualities) is configuration: the processor's environment, set at
deploy from RENDITION_SIZES, AVIF_QUALITY, ... Every processed record carries the version of
the spec it was made with (`specVersion`; none for records made before specs existed). This
command asks the deployed processor, one synchronous invocation per image and a few at a time,
to re-render each record whose version differs from the processor's current one:

- the processor holds a lease on the record while it works, so nothing is re-rendered twice
  at once (two runs of this command, or this and an upload's own processing);
- the record lists the old renditions until the new ones are written, then the old ones go:
  the gallery keeps working throughout;
- interrupted, it is simply run again: records already re-rendered carry the current version
  and are skipped (idempotent, resumable). `--all` re-renders every processed record anyway;
  `--id ID` only one.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed

from bootstrap.reconcile import progress
from handlers.config import Settings
from handlers.processor import rerender_event
from handlers.records import ImageRecords
from handlers.schema import ImageRecord, Status

WORKERS = 4  # invocations at a time: each is a whole processor run (one decode, eight encodes)


class ProcessorMisconfigured(RuntimeError):
    """The deployed processor's settings cannot be read: every run of it would fail."""


def current_spec_version(lambda_, function_name: str) -> str:
    """The spec version the deployed processor renders with: from its own environment, read the
    way the processor reads it."""
    config = lambda_.get_function_configuration(FunctionName=function_name)
    variables = (config.get("Environment") or {}).get("Variables") or {}
    try:
        return Settings.from_env(variables).renditions.version
    except ValueError as exc:  # the processor fails the same way on every image: start nothing
        raise ProcessorMisconfigured(f"{function_name}'s settings cannot be read ({exc}): deploy again") from exc


def outdated(records: Iterable[ImageRecord], version: str, force: bool = False) -> list[str]:
    """Ids of processed records made with another spec (every processed record with `force`)."""
    return [
        r["id"] for r in records if r.get("status") == Status.PROCESSED and (force or r.get("specVersion") != version)
    ]


def reprocess(
    lambda_,
    dynamodb,
    outputs: dict,
    image_id: str | None = None,
    force: bool = False,
    workers: int = WORKERS,
    log: Callable[[str], None] = print,
    bar: Callable[[str], None] | None = None,
) -> Counter:
    """Re-render what needs it; returns how many ended each way (see handlers.processor.rerender)."""
    bar = bar or (lambda text: (sys.stderr.write(text), sys.stderr.flush()))
    function = outputs["functions"]["processor"]
    version = current_spec_version(lambda_, function)
    if image_id:
        ids = [image_id]
    else:
        ids = outdated(ImageRecords(dynamodb, outputs["table"]).listed(), version, force)
    log(f"reprocess: {len(ids)} image(s) to re-render with spec {version}" + (" (all)" if force else ""))

    def invoke(one: str) -> str:
        answer = lambda_.invoke(
            FunctionName=function,
            InvocationType="RequestResponse",
            Payload=json.dumps(rerender_event(one, force or bool(image_id))).encode(),
        )
        payload = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError") or not isinstance(payload, dict):
            return "error"
        return payload.get("outcome", "error")

    outcomes: Counter = Counter()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(invoke, one): one for one in ids}
        for done, future in enumerate(as_completed(futures), 1):
            try:
                outcome = future.result()
            except Exception as exc:  # one image's trouble never stops the others
                log(f"\nreprocess: {futures[future]}: {exc}")
                outcome = "error"
            outcomes[outcome] += 1
            bar(progress(done, len(ids), started, unit="images"))
    if ids:
        bar("\n")
    log("reprocess: " + (", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())) or "nothing to do"))
    return outcomes
