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
