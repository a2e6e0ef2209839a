"""Where a deploy's outputs live: $IMAGEPIPE_STATE_DIR/outputs.json (default .stack/)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bootstrap.package import ROOT


def state_dir() -> Path:
    return Path(os.environ.get("IMAGEPIPE_STATE_DIR", ROOT / ".stack"))


def outputs_path() -> Path:
    return state_dir() / "outputs.json"


def read_outputs() -> dict:
    return json.loads(outputs_path().read_text())


def local_credentials() -> tuple[str, str] | None:
    """Emulators take any key: "test"/"test" for what the environment does not name; None when it
    names both, so boto3 reads them (and any session token) itself. Never written to os.environ."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return None
    return (key or "test", secret or "test")
