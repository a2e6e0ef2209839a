"""The emulator's processes: bootstrap/emulator.py's janitor removes only the scratch folders nothing
uses any more; bootstrap/emulator_checkpoints.py's table snapshot, in the emulator's interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bootstrap.emulator import ABANDONED_AFTER_SECONDS, prune
from bootstrap.local import EMULATOR_PYTHON
from bootstrap.package import ROOT


def test_only_environments_whose_process_is_gone_are_removed(tmp_path):
    """A folder is removed once the process that used it is gone, or when no process ever used it
    for ABANDONED_AFTER_SECONDS (a failed start); one being unpacked (no process yet) stays, however
    long the unpacking takes under a burst of cold starts."""
    abandoned_at = time.time() - ABANDONED_AFTER_SECONDS - 60
    unpacking_at = time.time() - ABANDONED_AFTER_SECONDS / 2
    abandoned, alive, unpacking = (
        tmp_path / f"ministack-lambda-imagepipe-api-{n}" for n in ("abandoned", "alive", "unpacking")
    )
    for folder in (abandoned, alive, unpacking):
        (folder / "code").mkdir(parents=True)
        (folder / "_worker.py").write_text("# a worker\n")
    os.utime(abandoned, (abandoned_at, abandoned_at))
    os.utime(alive, (unpacking_at, unpacking_at))
    os.utime(unpacking, (unpacking_at, unpacking_at))
    other = tmp_path / "not-ours"
    other.mkdir()
    os.utime(other, (abandoned_at, abandoned_at))
    seen: set = set()
    # A living worker names its folder on its command line, as MiniStack's do.
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(alive / "_worker.py")])
    try:
        time.sleep(0.2)
        assert prune(tmp_path, seen) == [abandoned]
    finally:
        worker.kill()
        worker.wait()
    assert alive.exists() and unpacking.exists() and other.exists()
    assert prune(tmp_path, seen) == [alive]  # its worker is gone now
    assert prune(tmp_path, seen) == [] and unpacking.exists()
    assert seen == set()


def test_the_table_snapshot_holds_what_ministack_s_own_save_holds():
    """table_state() skips get_state()'s deep copy; a field MiniStack adds to its save must not be
    silently left out of the checkpoints."""
    assert EMULATOR_PYTHON.exists(), "the emulator's virtualenv (make emulator-venv; make test makes it)"
    script = (
        "import json\n"
        "from ministack.services import dynamodb\n"
        "from bootstrap.emulator_checkpoints import table_state\n"
        "print(json.dumps([sorted(dynamodb.get_state()), sorted(table_state(dynamodb))]))\n"
    )
    done = subprocess.run([str(EMULATOR_PYTHON), "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    theirs, ours = json.loads(done.stdout)
    assert ours == theirs
