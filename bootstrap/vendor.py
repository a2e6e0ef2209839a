"""Others' browser code for frontend/, as pinned dependencies: `python -m bootstrap.vendor`.

The page has no build step and a fresh machine may have no node, so each package's npm tarball
is fetched here with the standard library, checked against its pinned npm integrity (sha512)
before anything is written, and only the file the browser loads is extracted into
frontend/vendor/ (git-ignored), with a README naming its source and licence. A file already
there with its pinned sha256 is kept without a download.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import sys
import tarfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "frontend" / "vendor"
LICENSE_NAMES = ("package/LICENSE", "package/LICENSE.md", "package/LICENSE.txt", "package/LICENCE")


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    url: str
    integrity: str  # npm's Subresource Integrity of the tarball: "sha512-<base64>"
    member: str  # the file the browser loads, inside the tarball
    sha256: str  # of that file: an existing copy is the right one without a download
    license: str  # package.json's "license"
    source: str  # the project's home, for the licence's full text when the tarball carries none

    @property
    def filename(self) -> str:
        return Path(self.member).name


# The pins. thumbhash.js is an ES module exporting thumbHashToDataURL(hash: Uint8Array) (and
# thumbHashToRGBA, thumbHashToAverageRGBA, thumbHashToApproximateAspectRatio, rgbaToThumbHash,
# rgbaToDataURL); the tarball has no LICENSE file.
THUMBHASH = Package(
    name="thumbhash",
    version="0.1.1",
    url="https://registry.npmjs.org/thumbhash/-/thumbhash-0.1.1.tgz",
    integrity="sha512-kH5pKeIIBPQXAOni2AiY/Cu/NKdkFREdpH+TLdM0g6WA7RriCv0kPLgP731ady67MhTAqrVG/4mnEeibVuCJcg==",
    member="package/thumbhash.js",
    sha256="228a125e608e4955940cbe764e046386c9953226d2af66a5380266e18b78ffca",
    license="MIT",
    source="https://github.com/evanw/thumbhash",
)
PACKAGES = (THUMBHASH,)


class VendorError(RuntimeError):
    pass


def sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def is_current(package: Package, dest: Path = VENDOR) -> bool:
    return sha256_of(dest / package.filename) == package.sha256


def missing(dest: Path = VENDOR, packages: tuple[Package, ...] = PACKAGES) -> list[str]:
    """The pinned files absent from `dest` or not byte for byte the pinned ones."""
    return [str(dest / p.filename) for p in packages if not is_current(p, dest)]


def check_integrity(tarball: bytes, package: Package) -> None:
    algorithm, _, expected = package.integrity.partition("-")
    if algorithm != "sha512":
        raise VendorError(f"{package.name}: only sha512 integrity is accepted, not {package.integrity!r}")
    actual = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if not hmac.compare_digest(actual, expected):
        raise VendorError(
            f"{package.name} {package.version}: the tarball from {package.url} fails its integrity check "
            f"(expected sha512-{expected}, got sha512-{actual}); nothing was written"
        )


def _read_member(archive: tarfile.TarFile, name: str) -> bytes | None:
    try:
        info = archive.getmember(name)
    except KeyError:
        return None
    if not info.isfile():
        raise VendorError(f"{name} in the tarball is not a regular file")
    return archive.extractfile(info).read()


def unpack(tarball: bytes, package: Package) -> tuple[bytes, bytes | None]:
    """The browser file (checked against its pinned sha256) and the licence text, if any."""
    check_integrity(tarball, package)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        code = _read_member(archive, package.member)
        license_text = next((t for n in LICENSE_NAMES if (t := _read_member(archive, n)) is not None), None)
    if code is None:
        raise VendorError(f"{package.name} {package.version}: no {package.member} in the tarball")
    if hashlib.sha256(code).hexdigest() != package.sha256:
        raise VendorError(f"{package.name} {package.version}: {package.member} is not the pinned file (sha256)")
    return code, license_text


def readme(package: Package, license_text: bytes | None) -> str:
    lines = [
        f"{package.filename}: {package.name} {package.version}, licence {package.license}.",
        f"Source: {package.source}",
        f"Fetched by `python -m bootstrap.vendor` from {package.url}",
        f"(npm integrity {package.integrity}); not part of this repository.",
        "",
    ]
    if license_text is None:
        lines.append(f"The package carries no licence file; the {package.license} text is at {package.source}.")
    else:
        lines.append(license_text.decode("utf-8", "replace").rstrip())
    return "\n".join(lines) + "\n"


def _write(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def download(url: str, log: Callable[[str], None] = print) -> bytes:
    log(f"downloading {url}")
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    log(f"  {len(data)} bytes")
    return data


def ensure(
    package: Package,
    dest: Path = VENDOR,
    fetch: Callable[[str], bytes] = download,
    log: Callable[[str], None] = print,
) -> Path:
    """`dest/<file>` is the pinned file: kept if it already is, else fetched, checked and written."""
    target = dest / package.filename
    if is_current(package, dest):
        log(f"{target}: {package.name} {package.version}, already there")
        return target
    code, license_text = unpack(fetch(package.url), package)  # raises before anything is written
    dest.mkdir(parents=True, exist_ok=True)
    _write(dest / f"{package.filename}.README.txt", readme(package, license_text).encode())
    _write(target, code)
    log(f"{target}: {package.name} {package.version}, integrity verified")
    return target


def main() -> int:
    try:
        for package in PACKAGES:
            ensure(package)
    except (VendorError, OSError) as exc:
        print(f"vendor: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
