"""bootstrap/emulator_checkpoints.py: what changed is written, atomically, never after the emulator's
own save at shutdown; the table's snapshot holds what MiniStack's own save holds.
(The crash itself: tests/integration/test_accounts_survive_a_crash.py.)"""

from __future__ import annotations

import json
import subprocess

import pytest

from bootstrap.emulator_checkpoints import Checkpointer
from bootstrap.local import EMULATOR_PYTHON
from bootstrap.package import ROOT


def test_a_changed_service_is_written_atomically_and_an_unchanged_one_not_again(tmp_path):
    checkpointer = Checkpointer(str(tmp_path))
    assert checkpointer.write("cognito", '{"payload": 1}')
    assert json.loads((tmp_path / "cognito.json").read_text()) == {"payload": 1}
    assert not checkpointer.write("cognito", '{"payload": 1}')  # the same state: no write
    assert checkpointer.write("cognito", '{"payload": 2}')
    assert [p.name for p in tmp_path.iterdir()] == ["cognito.json"]  # no temporary file left


def test_nothing_is_written_once_the_emulator_s_own_save_began(tmp_path):
    checkpointer = Checkpointer(str(tmp_path))
    with checkpointer.write_lock:  # as the patched save_all does
        checkpointer.stopping = True
    assert not checkpointer.write("dynamodb", '{"payload": "stale"}')
    assert not (tmp_path / "dynamodb.json").exists()


def test_a_service_marked_while_it_waits_its_turn_stays_changed(tmp_path):
    checkpointer = Checkpointer(str(tmp_path))
    checkpointer.mark("dynamodb")
    checkpointer.mark("cognito")
    checkpointer.next_allowed["dynamodb"] = 100.0  # its last snapshot was slow: not before t=100
    assert checkpointer.take_due(50.0) == {"cognito"}
    assert checkpointer.take_due(50.0) == set()
    checkpointer.mark("cognito")  # a request that ended after the snapshot began
    assert checkpointer.take_due(101.0) == {"dynamodb", "cognito"}


def test_the_table_snapshot_holds_what_ministack_s_own_save_holds():
    """table_state() skips get_state()'s deep copy; a field MiniStack adds to its save must not be
    silently left out of the checkpoints."""
    if not EMULATOR_PYTHON.exists():
        pytest.skip("the emulator virtualenv is missing")
    script = (
        "import json\n"
        "from ministack.services import dynamodb\n"
        "from bootstrap.emulator_checkpoints import table_state\n"
        "print(json.dumps([sorted(dynamodb.get_state()), sorted(table_state(dynamodb))]))\n"
    )
    done = subprocess.run([str(EMULATOR_PYTHON), "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    theirs, ours = json.loads(done.stdout)
    assert ours == theirs
