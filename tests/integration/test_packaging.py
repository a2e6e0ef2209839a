"""The Lambda zips and `python -m bootstrap`, as processes: pip fetches the wheels (PyPI), and the
command line runs in its own interpreter."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bootstrap.package import MAX_UNZIPPED_BYTES, MAX_ZIP_BYTES, ROOT, Platform, build_zip


def test_zip_is_reproducible_and_self_contained(tmp_path):
    platform = Platform("3.11", "x86_64")
    first = build_zip(platform, tmp_path / "a", log=lambda _: None)
    second = build_zip(platform, tmp_path / "b", log=lambda _: None)
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert "handlers/api.py" in names and "handlers/processor.py" in names
        assert any(n.startswith("PIL/") for n in names)
        assert any(n.startswith("aws_lambda_powertools/") for n in names)
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        assert not any(n.startswith(("boto3/", "botocore/")) for n in names)  # the runtime provides boto3
        native = [n for n in names if n.endswith(".so") and "cpython" in n]
        assert native and all("cpython-311-x86_64-linux-gnu" in n for n in native)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize("arch, machine", [("x86_64", "x86_64"), ("arm64", "aarch64")])
def test_aws_zip_carries_manylinux_wheels_for_the_lambda_runtime(tmp_path, arch, machine):
    """`python -m bootstrap package --target aws --arch ...`: python3.12 wheels for that CPU,
    never the host's site-packages, within Lambda's size limits."""
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "bootstrap", "package", "--target", "aws", "--arch", arch, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "IMAGEPIPE_BUILD_DIR": str(tmp_path / "build")},
    )
    assert result.returncode == 0, result.stderr
    zip_path = Path(json.loads(result.stdout)["zip"])
    assert zip_path.parent == out and zip_path.stat().st_size < MAX_ZIP_BYTES
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        native = [n for n in names if n.endswith(".so") and "cpython" in n]
        assert native and all(f"cpython-312-{machine}-linux-gnu" in n for n in native), native
        wheels = [n for n in names if n.endswith(".dist-info/WHEEL")]
        tags = [line for n in wheels for line in zf.read(n).decode().splitlines() if line.startswith("Tag:")]
        native_tags = [t for t in tags if "none-any" not in t]

        # Built for CPython 3.12 itself, or for the stable ABI of a CPython up to 3.12 (abi3:
        # cryptography's, which PyJWT's RS256 needs), on this CPU's manylinux.
        def runs_on_the_runtime(tag: str) -> bool:
            interpreter, abi, platform = tag.removeprefix("Tag: ").split("-")
            built_for = abi == "cp312" or (abi == "abi3" and int(interpreter.removeprefix("cp")) <= 312)
            return built_for and machine in platform and "manylinux" in platform

        assert native_tags and all(runs_on_the_runtime(t) for t in native_tags), tags
        assert any("cp312-cp312" in t for t in native_tags)  # Pillow's, for this very runtime
        assert sum(i.file_size for i in zf.infolist()) < MAX_UNZIPPED_BYTES


def test_python_m_bootstrap_credentials_prints_export_lines(tmp_path):
    """As `aws configure export-credentials --format env` prints them: `eval` them for awslocal."""
    from bootstrap.local import stack_credentials

    key, secret = stack_credentials(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"IMAGEPIPE_STATE_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "bootstrap", "credentials"]
    printed = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert printed.splitlines() == [f"export AWS_ACCESS_KEY_ID={key}", f"export AWS_SECRET_ACCESS_KEY={secret}"]
    shell = subprocess.run(
        ["sh", "-c", 'eval "$1"; printf "%s %s" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"', "sh", printed],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shell == f"{key} {secret}"
