"""The embedded emulator's DynamoDB stream mappings, made to read every change after a restart.

MiniStack (1.5.33) saves each stream mapping's read position (an index into its table's stream)
with its Lambda state, but not the stream's changes: after a restart the stream starts again
empty, at index 0, while the mapping's position is where it was (say 57), so the first 57
changes after every restart were never read, and their image events never sent (docs/events.md).
Once the Lambda state is loaded, a position past the end of its table's stream is moved to that
end: what the stream held before the stop is gone either way, and from then on nothing is
skipped. A position within the stream (were a later MiniStack to keep the changes) is kept.

Runs in the emulator's own process (bootstrap/emulator.py), stdlib only.
"""

from __future__ import annotations


def table_of(stream_arn: str) -> str:
    """arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label> -> <name>"""
    return stream_arn.split("/stream/")[0].rsplit("/", 1)[-1]


def rewind_stream_positions(lambda_svc, dynamodb) -> list[str]:
    """Every DynamoDB stream mapping's position, kept within its table's stream; the ids of those
    moved."""
    moved = []
    with lambda_svc._dynamodb_stream_positions_lock:
        positions = lambda_svc._dynamodb_stream_positions._data
        for (account, region, esm_id), position in list(positions.items()):
            mapping = lambda_svc._esms._data.get((account, region, esm_id)) or {}
            source = mapping.get("EventSourceArn", "")
            if "/stream/" not in source:
                continue
            end = dynamodb.stream_end_position(table_of(source), account_id=account, region=region)
            if isinstance(position, int) and position > end:
                positions[(account, region, esm_id)] = end
                moved.append(esm_id)
    return moved


def install() -> None:
    """Rewind the positions each time MiniStack loads its Lambda state (idempotent)."""
    from ministack.services import dynamodb, lambda_svc

    if getattr(lambda_svc.load_persisted_state, "_imagepipe_rewinds", False):
        return
    load = lambda_svc.load_persisted_state

    def load_then_rewind(data) -> None:
        load(data)
        rewind_stream_positions(lambda_svc, dynamodb)

    load_then_rewind._imagepipe_rewinds = True
    lambda_svc.load_persisted_state = load_then_rewind
