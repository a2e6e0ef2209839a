"""Runs the embedded emulator (MiniStack) with a janitor for its scratch space.

Run with the emulator's own interpreter: `.venv-emulator/bin/python bootstrap/emulator.py`.
MiniStack unpacks each Lambda execution environment's code (tens of MB, Pillow included)
into a fresh `ministack-lambda-*` folder under TMPDIR and never removes it, not even when
the environment is reaped; a long-running stack filled 832 MB in 90 minutes of tests. The
janitor removes the folders that no living process uses any more, so the scratch space
stays bounded by the environments alive at once. Stdlib only: this file runs beside
MiniStack, in the process that serves, so signals and state saving are MiniStack's own.

It also makes the emulator's Cognito refuse attributes a person may not write, as AWS does
(bootstrap/emulator_cognito.py), and its root key a key: a root request's signature is checked
against the stack's own secret, and the admin endpoints are closed (bootstrap/emulator_auth.py).
And its CloudWatch is fed as AWS feeds it: the functions' embedded-metric-format log lines become
metrics, queues publish their depth, alarms watch their own series (bootstrap/emulator_metrics.py).
Its DynamoDB stream mappings read every change after a restart (bootstrap/emulator_streams.py).
"""

from __future__ import annotations

import os
import runpy
import shutil
import sys
import threading
import time
from pathlib import Path

PREFIX = "ministack-lambda-"
# How often the janitor looks; SCRATCH_JANITOR_SECONDS shortens it for tests.
EVERY_SECONDS = float(os.environ.get("SCRATCH_JANITOR_SECONDS") or 30)
# A folder no process has used yet is being unpacked (under a burst of cold starts on two cores
# that takes minutes: removing it then killed the environment, and MiniStack then killed every
# environment of the function); one still unused after this long was left by a failed start.
ABANDONED_AFTER_SECONDS = 600


def folders_in_use(scratch: Path, proc: Path = Path("/proc")) -> set[Path]:
    """The scratch folders a living process names on its command line (each worker runs
    `<folder>/_worker.py` or the like) or has as its working directory."""
    used: set[Path] = set()
    for entry in proc.glob("[0-9]*"):
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        for text in [w.decode(errors="replace") for w in words] + [cwd]:
            if text.startswith(str(scratch)):
                parts = Path(text).relative_to(scratch).parts
                if parts:
                    used.add(scratch / parts[0])
    return used


def prune(scratch: Path, seen: set[Path], now: float | None = None) -> list[Path]:
    """Remove the execution environments' folders whose process is gone; returns them. `seen`
    (kept between calls) holds the folders a process has used: only those are known to be
    finished with when no process uses them; any other is left alone until it is abandoned."""
    now = now or time.time()
    in_use = folders_in_use(scratch)
    seen |= in_use
    removed = []
    for folder in scratch.glob(PREFIX + "*"):
        if folder in in_use:
            continue
        try:
            abandoned = now - folder.stat().st_mtime > ABANDONED_AFTER_SECONDS
        except OSError:
            continue
        if folder in seen or abandoned:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    seen &= set(scratch.glob(PREFIX + "*"))  # forget the removed, and those gone by other hands
    return removed


def _janitor(scratch: Path) -> None:
    seen: set[Path] = set()
    while True:
        time.sleep(EVERY_SECONDS)
        try:
            prune(scratch, seen)
        except Exception:  # never take the emulator down; try again next time
            pass


if __name__ == "__main__":
    sys.path.append(str(Path(__file__).resolve().parent.parent))  # the project, for bootstrap.*
    from bootstrap import emulator_auth, emulator_checkpoints, emulator_cognito, emulator_metrics, emulator_streams

    emulator_auth.install()
    emulator_cognito.install()
    emulator_checkpoints.install()
    emulator_metrics.install()
    emulator_streams.install()
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    if Path("/proc/self/cmdline").exists():  # Linux: processes are visible there
        threading.Thread(target=_janitor, args=(scratch,), name="scratch-janitor", daemon=True).start()
    runpy.run_module("ministack", run_name="__main__", alter_sys=True)
