"""bootstrap/: the deploying environment and the local stack's credentials (the zips and the
command line, as processes: tests/integration/test_packaging.py)."""

from __future__ import annotations

import os

import pytest


@pytest.mark.parametrize("target", ["embedded", "localstack", "aws"])
def test_config_for_leaves_the_environment_as_it_is(monkeypatch, tmp_path, target):
    """The region and, locally, the credentials travel in the config, not through os.environ: the
    embedded stack's own key whatever the environment names, dummy ones for LocalStack."""
    from bootstrap.__main__ import config_for
    from bootstrap.deploy.config import session_for
    from bootstrap.local import stack_credentials

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IMAGEPIPE_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # the AWS target's region; it wins over the next
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    own = stack_credentials(tmp_path)
    before = dict(os.environ)
    cfg = config_for(target, account="123456789012" if target == "aws" else None)
    assert dict(os.environ) == before
    session = session_for(cfg)
    assert session.region_name == cfg.region == ("eu-central-1" if target == "aws" else "us-east-1")
    if target != "aws":  # on AWS boto3's own chain finds the credentials
        credentials = session.get_credentials()
        assert (credentials.access_key, credentials.secret_key) == (own if target == "embedded" else ("test", "test"))

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMTHEENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-the-env")
    before = dict(os.environ)
    cfg = config_for(target, account="123456789012" if target == "aws" else None)
    assert dict(os.environ) == before
    if target == "embedded":  # the emulator refuses any other key; one exported for another stack must not leak
        assert cfg.credentials == own and session_for(cfg).get_credentials().access_key == own[0]
    else:
        assert cfg.credentials is None and session_for(cfg).get_credentials().access_key == "AKIAFROMTHEENV"


@pytest.mark.parametrize("target", ["embedded", "localstack"])
def test_the_dead_letter_commands_leave_the_environment_as_it_is(monkeypatch, tmp_path, target):
    from bootstrap.deadletters import _clients
    from bootstrap.local import stack_credentials

    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("IMAGEPIPE_STATE_DIR", str(tmp_path))
    before = dict(os.environ)
    sqs, lam = _clients({"target": target, "region": "us-east-1", "endpointUrl": "http://127.0.0.1:1"})
    assert dict(os.environ) == before
    for client in (sqs, lam):
        expected = stack_credentials(tmp_path)[0] if target == "embedded" else "test"
        assert client._request_signer._credentials.access_key == expected


def test_a_stack_key_is_made_once_readable_by_its_owner_only_and_kept(tmp_path):
    """The embedded emulator's root key: made on first use (not MiniStack's public `test`), in a
    0600 file, the same on every later start, so the stack's saved state stays its own."""
    from bootstrap.local import credentials_file, emulator_env, stack_credentials

    state = tmp_path / "stack"
    key, secret = stack_credentials(state)
    path = credentials_file(state)
    assert path.parent == state and path.stat().st_mode & 0o777 == 0o600
    assert len(key) == 20 and key.startswith("AKIA") and key.isalnum() and key.isupper()
    assert len(secret) == 40 and secret.isalnum() and (key, secret) != ("test", "test")
    assert stack_credentials(state) == (key, secret)  # kept: the second call reads it
    assert [p.name for p in state.iterdir()] == [path.name]  # no draft left behind
    assert stack_credentials(tmp_path / "another") != (key, secret)  # each stack its own
    env = emulator_env(4566, state / "emulator")  # what MiniStack starts with
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (key, secret)
    assert "AWS_SESSION_TOKEN" not in env  # a token in the shell would be demanded of root calls
