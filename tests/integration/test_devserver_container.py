"""The devserver's container (devserver/Dockerfile, the LocalStack target) as a process: what it
copies of the tree is enough to import the app and send the page's headers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bootstrap.package import ROOT


def test_the_devserver_container_holds_what_the_devserver_imports(tmp_path):
    """devserver/Dockerfile copies only some of the tree: the app must import and send its headers
    with exactly that (Flask installed; no handlers/, no rest of bootstrap/)."""
    dockerfile = (ROOT / "devserver" / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            *sources, dest = line.split()[1:]
            for source in sources:
                target = (
                    tmp_path / dest / (Path(source).name if dest.endswith("/") and not source.endswith("/") else "")
                )
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, target, dirs_exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(ROOT / source, target)
    probe = (
        "from devserver.app import create_app; r = create_app().test_client().get('/');"
        "print(r.status_code, r.headers['Content-Security-Policy'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("200 default-src 'none'")
