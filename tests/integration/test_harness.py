"""Developer story: a test or bench run killed abruptly (SIGKILL, a CI timeout) leaves no
emulator running behind it, and a long-running emulator does not fill the disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bootstrap.local import EMULATOR_PYTHON, free_port
from tests.prereq import need

pytestmark = pytest.mark.integration

STARTER = """
import sys, time
from pathlib import Path
from bootstrap.local import start_emulator
state = Path(sys.argv[2])
proc = start_emulator(int(sys.argv[1]), state / "emulator", state / "emulator.log", die_with_parent=True)
print(proc.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; its new parent reaps it when it will


def test_an_emulator_dies_with_the_run_that_started_it(tmp_path):
    need(EMULATOR_PYTHON.exists(), f"the emulator virtualenv is missing ({EMULATOR_PYTHON})")
    if sys.platform != "linux":
        pytest.skip("parent-death signals are a Linux feature")
    run = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(free_port()), str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    emulator = int(run.stdout.readline())
    try:
        assert alive(emulator)
        run.send_signal(signal.SIGKILL)  # no cleanup code runs
        run.wait()
        deadline = time.monotonic() + 30
        while alive(emulator) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(emulator), "the emulator outlived the killed run"
    finally:
        if alive(emulator):
            os.killpg(emulator, signal.SIGKILL)


def test_a_stopped_emulator_leaves_no_unpacked_function_code_behind(tmp_path):
    """The emulator unpacks each execution environment's code (tens of MB) into its TMPDIR and
    does not remove it when stopped; ours is under the state directory and goes at stop."""
    from bootstrap.local import emulator_scratch
    from tests.images import phone_jpeg
    from tests.stack import deploy_stack

    scratch = emulator_scratch(tmp_path / "emulator")
    with deploy_stack(tmp_path) as stack:
        created = stack.upload(phone_jpeg(320, 240), "scratch.jpg", "image/jpeg")
        assert stack.wait_final(created["id"])["status"] == "processed"
        assert any(scratch.iterdir()), "the functions' code was unpacked somewhere else"
    assert not scratch.exists()


def test_the_scratch_space_stays_bounded_while_the_emulator_runs(tmp_path, monkeypatch):
    """Execution environments that are gone leave their unpacked code behind (MiniStack never
    removes it): the janitor beside the emulator does, and only theirs."""
    from bootstrap.local import emulator_scratch
    from tests.images import phone_jpeg
    from tests.stack import deploy_stack

    monkeypatch.setenv("SCRATCH_JANITOR_SECONDS", "2")
    scratch = emulator_scratch(tmp_path / "emulator")

    def processors() -> set:
        return {p.name for p in scratch.glob("ministack-lambda-imagepipe-processor-*")}

    with deploy_stack(tmp_path) as stack:
        assert (
            stack.wait_final(stack.upload(phone_jpeg(320, 240), "a.jpg", "image/jpeg")["id"])["status"] == "processed"
        )
        first = processors()
        assert first, "no processor environment was unpacked here"
        with stack.function_env("processor", STUCK_AFTER_SECONDS="901"):  # new settings: new environments
            created = stack.upload(phone_jpeg(320, 240), "b.jpg", "image/jpeg")
            assert stack.wait_final(created["id"])["status"] == "processed"
            deadline = time.monotonic() + 30
            while processors() & first:
                assert time.monotonic() < deadline, f"the gone environments' code stayed: {processors() & first}"
                time.sleep(0.5)
            assert processors(), "the living environment's code was removed"
