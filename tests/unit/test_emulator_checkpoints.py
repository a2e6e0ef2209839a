"""bootstrap/emulator_checkpoints.py: what changed is written, atomically, never after the emulator's
own save at shutdown. (That the table's snapshot holds what MiniStack's own save holds, in the
emulator's interpreter: tests/integration/test_emulator_processes.py; the crash itself:
tests/integration/test_accounts_survive_a_crash.py.)"""

from __future__ import annotations

import json

from bootstrap.emulator_checkpoints import Checkpointer


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
