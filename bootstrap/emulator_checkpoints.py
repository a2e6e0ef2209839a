"""Checkpoints of the embedded emulator's state while it runs, so a crash loses seconds, not a day.

MiniStack saves each service's state (`<STATE_DIR>/<service>.json`) only when it stops cleanly; a
SIGKILL, an OOM kill or a power cut lost every account, record and quota counter since the last
clean start. install(), in the emulator's own process (bootstrap/emulator.py), starts a thread
that every CHECKPOINT_SECONDS saves the services that served a request since their last save,
in MiniStack's own file format (its persistence module's encoder and format version, read back
by its own loader at the next start), written atomically: a temporary file, fsync, then rename.

Consistent snapshots: a service's state is copied on the emulator's event loop, where its request
handlers run, so no request is half applied in the copy (Cognito's handlers run in worker
threads: a copy that meets a dict changing size is taken again). Only the JSON text leaves the
loop; writing it is the thread's.

Bounded cost: a snapshot of a large table blocks the loop while it is taken (measured in
docs/recovery.md), so a service is saved again no sooner than SPACING x its last snapshot's
time after it: the loop spends at most about 1/SPACING of its time on checkpoints, and small
services (the user pool) keep the short interval. The table is serialized straight from the live
items on the loop (no deep copy: json.dumps' C encoder is what the loop pays, 5x less).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
import time

logger = logging.getLogger("imagepipe.checkpoints")

CHECKPOINT_SECONDS = float(os.environ.get("CHECKPOINT_SECONDS") or 2)
SPACING = 10  # a service is saved again no sooner than this many times its last snapshot's time
SNAPSHOT_TRIES = 5  # copies retried when a dict changes size under a worker thread's request


class Checkpointer:
    """What has changed, and writes it; one per emulator process."""

    def __init__(self, state_dir: str, interval: float = CHECKPOINT_SECONDS):
        self.state_dir, self.interval = state_dir, interval
        self.dirty: set[str] = set()
        self.dirty_lock = threading.Lock()  # marked from the loop and from worker threads
        self.loaded = threading.Event()  # MiniStack has read its saved state: nothing is older now
        self.stopping = False
        self.write_lock = threading.Lock()  # MiniStack's own save at shutdown waits for a write
        self.written: dict[str, str] = {}  # state key -> hash of the text last written
        self.next_allowed: dict[str, float] = {}

    def mark(self, module_name: str) -> None:
        with self.dirty_lock:
            self.dirty.add(module_name)

    def take_due(self, now: float) -> set[str]:
        """The changed services whose turn it is; they are clean from here until marked again."""
        with self.dirty_lock:
            due = {m for m in self.dirty if now >= self.next_allowed.get(m, 0.0)}
            self.dirty -= due
        return due

    def write(self, key: str, text: str) -> bool:
        """Write one service's state atomically; False if it had not changed since the last write."""
        digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        if self.written.get(key) == digest:
            return False
        path = os.path.join(self.state_dir, f"{key}.json")
        tmp = f"{path}.checkpoint.tmp"
        with self.write_lock:
            if self.stopping:
                return False
            with open(tmp, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            directory = os.open(self.state_dir, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename itself survives a power cut
            finally:
                os.close(directory)
        self.written[key] = digest
        return True


def state_text(key: str, state, persistence) -> str:
    """A service's state in MiniStack's file format (what its save_state writes, load_state reads)."""
    wrapped = {"__ministack_format__": persistence._state_format_version(key), "payload": state}
    return json.dumps(wrapped, default=persistence._json_default)


def table_state(dynamodb):
    """dynamodb.get_state() without its deep copy: the live tables, for json.dumps on the loop."""
    from ministack.core.responses import AccountRegionScopedDict

    tables = AccountRegionScopedDict()
    for (account, region, name), table in dynamodb._tables.all_items():
        tables.set_scoped(account, region, name, {k: v for k, v in table.items() if k != dynamodb._INDEX_MEMBERS})
    return {
        "tables": tables,
        "tags": dynamodb._tags,
        "ttl_settings": dynamodb._ttl_settings,
        "pitr_settings": dynamodb._pitr_settings,
        "kinesis_destinations": dynamodb._kinesis_destinations,
        "contributor_insights": dynamodb._contributor_insights,
        "backups": dynamodb._backups,
        "resource_policies": dynamodb._resource_policies,
        "exports": dynamodb._exports,
        "imports": dynamodb._imports,
    }


def snapshot(key: str, module, persistence) -> str | None:
    """One service's state as text, taken where its requests are handled (the event loop)."""
    for attempt in range(SNAPSHOT_TRIES):
        try:
            state = table_state(module) if key == "dynamodb" else module.get_state()
            # None: a module that failed to load has no state; its last save must stay (as save_all).
            return None if state is None else state_text(key, state, persistence)
        except RuntimeError:  # "dictionary changed size during iteration": a worker thread's write
            if attempt == SNAPSHOT_TRIES - 1:
                raise
    raise AssertionError("unreachable")


def run(checkpointer: Checkpointer, clock=time.monotonic) -> None:
    """The checkpoint thread: every interval, the services that changed, each when allowed."""
    from ministack import app as ministack_app
    from ministack.core import persistence

    checkpointer.loaded.wait()
    loop = ministack_app._MAIN_LOOP
    keys_of: dict[str, list[str]] = {}
    for key, module_name in ministack_app._state_map.items():
        keys_of.setdefault(module_name, []).append(key)
    while not checkpointer.stopping:
        time.sleep(checkpointer.interval)
        try:
            checkpoint_once(checkpointer, loop, keys_of, ministack_app, persistence, clock)
        except Exception:  # never take the emulator down: the next interval tries again
            logger.exception("checkpoint failed")


def checkpoint_once(checkpointer: Checkpointer, loop, keys_of, ministack_app, persistence, clock=time.monotonic):
    due = checkpointer.take_due(clock())
    for module_name in sorted(due):
        module = ministack_app._loaded_modules.get(module_name)
        if module is None or not hasattr(module, "get_state"):
            continue
        for key in keys_of.get(module_name, []):

            async def take(key=key, module=module):
                started = time.perf_counter()
                text = snapshot(key, module, persistence)
                return text, time.perf_counter() - started

            text, seconds = asyncio.run_coroutine_threadsafe(take(), loop).result(timeout=300)
            if text is None:
                continue
            checkpointer.write(key, text)
            checkpointer.next_allowed[module_name] = clock() + SPACING * seconds


def install(state_dir: str | None = None) -> Checkpointer | None:
    """Mark services dirty as requests reach them, start the checkpoint thread, and make
    MiniStack's own save at shutdown the last word (idempotent; only with PERSIST_STATE)."""
    from ministack import app as ministack_app
    from ministack.core import persistence

    if not persistence.PERSIST_STATE or getattr(ministack_app._get_module, "_imagepipe_checkpoints", None):
        return None
    checkpointer = Checkpointer(state_dir or persistence.STATE_DIR)
    get_module, load, save_all = ministack_app._get_module, ministack_app._load_persisted_state, ministack_app.save_all

    def marking_get_module(name: str):
        checkpointer.mark(name)
        module = get_module(name)
        watch(name, module)
        return module

    def watch(name: str, module) -> None:
        """Mark the service changed when each of its requests ends too: a request handled in a
        worker thread (Cognito's, waiting on a trigger) may land its change after a checkpoint
        that began meanwhile."""
        handle = getattr(module, "handle_request", None)
        if handle is None or getattr(handle, "_imagepipe_marks", False):
            return

        async def handle_request(*args, **kwargs):
            try:
                return await handle(*args, **kwargs)
            finally:
                checkpointer.mark(name)

        handle_request._imagepipe_marks = True
        module.handle_request = handle_request

    def loading():
        try:
            load()
        finally:
            checkpointer.loaded.set()

    def saving_last(services):
        with checkpointer.write_lock:  # a checkpoint being written finishes first, none after
            checkpointer.stopping = True
        save_all(services)

    marking_get_module._imagepipe_checkpoints = checkpointer
    ministack_app._get_module = marking_get_module
    ministack_app._load_persisted_state = loading
    ministack_app.save_all = saving_last
    threading.Thread(target=run, args=(checkpointer,), name="state-checkpoints", daemon=True).start()
    return checkpointer
