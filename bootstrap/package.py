"""Lambda deployment zips: the `handlers` package plus its dependencies, reproducibly.

Native dependencies (Pillow, pillow-heif, libvips) are taken as manylinux wheels for the
interpreter that will run the code, with pip's `--platform`/`--python-version`
options, never from the host's site-packages; a pure-Python one published as source only
(pyvips) is built into a wheel first. Same inputs give the same bytes:
entries are sorted, timestamps and permissions fixed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "handlers"
REQUIREMENTS = HANDLERS / "requirements.txt"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# Lambda's limits for a zip uploaded directly, and for the unzipped code.
MAX_ZIP_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024


@dataclass(frozen=True)
class Platform:
    python_version: str  # "3.11"
    arch: str  # "x86_64" | "aarch64"

    @property
    def pip_platforms(self) -> list[str]:
        return [f"manylinux2014_{self.arch}", f"manylinux_2_28_{self.arch}", f"manylinux_2_17_{self.arch}"]

    @property
    def tag(self) -> str:
        return f"py{self.python_version.replace('.', '')}-{self.arch}"


def _digest(paths: list[Path], extra: str) -> str:
    h = hashlib.sha256(extra.encode())
    for path in paths:
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _sources() -> list[Path]:
    return sorted(p for p in HANDLERS.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


# Pure-Python requirements published as source only (pyvips: its libvips comes in pyvips-binary's
# wheel): built into a wheel first, which any platform installs; pip builds no source for one.
SOURCE_ONLY = ("pyvips",)


def _pure_wheels(build_dir: Path) -> Path:
    """Wheels of SOURCE_ONLY's pinned requirements, built once into a folder pip is pointed at."""
    wheels = build_dir / f"pure-wheels-{_digest([REQUIREMENTS], 'pure')}"
    if (wheels / ".complete").exists():
        return wheels
    lines = [line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    pins = [line for line in lines if line.split("==")[0] in SOURCE_ONLY]
    if pins:
        pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps"]
        subprocess.run([*pip, "-w", str(wheels), *pins], check=True)
    wheels.mkdir(parents=True, exist_ok=True)
    (wheels / ".complete").write_text("ok")
    return wheels


def install_dependencies(platform: Platform, build_dir: Path, log=print) -> Path:
    """pip-install handlers/requirements.txt for `platform` into a cached folder."""
    target = build_dir / f"deps-{platform.tag}-{_digest([REQUIREMENTS], platform.tag)}"
    if (target / ".complete").exists():
        return target
    log(f"  installing Lambda dependencies for {platform.tag} (pip, wheels only)...")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--only-binary=:all:",
        "--find-links",
        str(_pure_wheels(build_dir)),
        "--implementation",
        "cp",
        "--python-version",
        platform.python_version,
        "-r",
        str(REQUIREMENTS),
    ]
    for tag in platform.pip_platforms:
        cmd += ["--platform", tag]
    subprocess.run(cmd, check=True)
    (target / ".complete").write_text("ok")
    return target


def build_zip(platform: Platform, build_dir: Path, log=print) -> Path:
    """The zip both functions deploy (one artifact, two handlers)."""
    build_dir.mkdir(parents=True, exist_ok=True)
    deps = install_dependencies(platform, build_dir, log)
    out = build_dir / f"imagepipe-{platform.tag}-{_digest(_sources() + [REQUIREMENTS], platform.tag)}.zip"
    if out.exists():
        return out
    log(f"  writing {out.name}...")
    files: list[tuple[str, Path]] = []
    for base, root in ((deps, deps), (ROOT, HANDLERS)):
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(base)
            if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc" and rel.name != ".complete":
                if rel.parts[0] == "bin":  # console scripts written by pip: not code
                    continue
                files.append((rel.as_posix(), path))
    files.sort()
    unzipped = sum(p.stat().st_size for _, p in files)
    if unzipped > MAX_UNZIPPED_BYTES:
        raise RuntimeError(f"unzipped code is {unzipped} bytes; Lambda allows {MAX_UNZIPPED_BYTES}")
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, path in files:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    if tmp.stat().st_size > MAX_ZIP_BYTES:
        raise RuntimeError(f"{out.name} is {tmp.stat().st_size} bytes; Lambda allows {MAX_ZIP_BYTES}")
    tmp.replace(out)
    return out
