"""Where a deploy's outputs live: $IMAGEPIPE_STATE_DIR/outputs.json (default .stack/)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bootstrap.local import stack_credentials
from bootstrap.package import ROOT


def state_dir() -> Path:
    return Path(os.environ.get("IMAGEPIPE_STATE_DIR", ROOT / ".stack"))


def outputs_path() -> Path:
    return state_dir() / "outputs.json"


def read_outputs() -> dict:
    return json.loads(outputs_path().read_text())


def local_credentials(target: str) -> tuple[str, str] | None:
    """The keys a stack on `target` is signed with; never written to os.environ.

    embedded: the emulator's own root key, kept in the state dir (bootstrap.local.stack_credentials),
    whatever the environment names: the emulator refuses any other, and a key exported for one
    stack must not leak into another's (tests deploy into temp state dirs).
    localstack (takes any key): None when the environment names both, so boto3 reads them (and any
    session token) itself, else "test"/"test" for what it does not name. aws: None (boto3's chain)."""
    if target == "embedded":
        return stack_credentials(state_dir())
    if target != "localstack":
        return None
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return None
    return (key or "test", secret or "test")
