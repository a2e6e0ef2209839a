"""bootstrap/emulator.py: the janitor removes only the scratch folders nothing uses any more."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bootstrap.emulator import prune


def test_only_unused_old_execution_environments_are_removed(tmp_path):
    old = time.time() - 3600
    gone, alive, fresh = (tmp_path / f"ministack-lambda-imagepipe-api-{n}" for n in ("gone", "alive", "fresh"))
    for folder in (gone, alive, fresh):
        (folder / "code").mkdir(parents=True)
        (folder / "_worker.py").write_text("# a worker\n")
    os.utime(gone, (old, old))
    os.utime(alive, (old, old))
    other = tmp_path / "not-ours"
    other.mkdir()
    os.utime(other, (old, old))
    # A living worker names its folder on its command line, as MiniStack's do.
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(alive / "_worker.py")])
    try:
        time.sleep(0.2)
        assert prune(tmp_path) == [gone]
    finally:
        worker.kill()
        worker.wait()
    assert alive.exists() and fresh.exists() and other.exists()
    assert prune(tmp_path) == [alive]  # its worker is gone now
