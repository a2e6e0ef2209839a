"""Others' browser code for frontend/, as pinned dependencies: `python -m bootstrap.vendor`.

The page has no build step and a fresh machine may have no node, so each package's npm tarball
is fetched here with the standard library, checked against its pinned npm integrity (sha512)
before anything is written, and only the files the browser loads are extracted into
frontend/vendor/ (git-ignored), each checked against its pinned sha256, with a README naming
their source and licence. Files already there with their pinned sha256 are kept without a
download.
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
from typing import NamedTuple

VENDOR = Path(__file__).resolve().parent.parent / "frontend" / "vendor"
LICENSE_NAMES = ("package/LICENSE", "package/LICENSE.md", "package/LICENSE.txt", "package/LICENCE")


class Member(NamedTuple):
    """A file the browser loads, inside the tarball, and the sha256 it must have: an existing copy
    with it is the right one without a download."""

    path: str
    sha256: str

    @property
    def filename(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    url: str
    integrity: str  # npm's Subresource Integrity of the tarball: "sha512-<base64>"
    members: tuple[Member, ...]  # the files the browser loads; the README is named after the first
    license: str  # package.json's "license"
    source: str  # the project's home, for the licence's full text when the tarball carries none

    @property
    def readme_name(self) -> str:
        return f"{self.members[0].filename}.README.txt"


# The pins. thumbhash.js is an ES module exporting thumbHashToDataURL(hash: Uint8Array) (and
# thumbHashToRGBA, thumbHashToAverageRGBA, thumbHashToApproximateAspectRatio, rgbaToThumbHash,
# rgbaToDataURL); the tarball has no LICENSE file.
THUMBHASH = Package(
    name="thumbhash",
    version="0.1.1",
    url="https://registry.npmjs.org/thumbhash/-/thumbhash-0.1.1.tgz",
    integrity="sha512-kH5pKeIIBPQXAOni2AiY/Cu/NKdkFREdpH+TLdM0g6WA7RriCv0kPLgP731ady67MhTAqrVG/4mnEeibVuCJcg==",
    members=(Member("package/thumbhash.js", "228a125e608e4955940cbe764e046386c9953226d2af66a5380266e18b78ffca"),),
    license="MIT",
    source="https://github.com/evanw/thumbhash",
)
# The lightbox (js/lightbox.js): the lightbox module, which loads the core on the first open (its
# `pswpModule`), both ES modules exporting their class as default; and their stylesheet. The
# minified builds (no source map comment), styles set through the CSSOM only: the page's CSP holds.
PHOTOSWIPE = Package(
    name="photoswipe",
    version="5.4.4",
    url="https://registry.npmjs.org/photoswipe/-/photoswipe-5.4.4.tgz",
    integrity="sha512-WNFHoKrkZNnvFFhbHL93WDkW3ifwVOXSW3w1UuZZelSmgXpIGiZSNlZJq37rR8YejqME2rHs9EhH9ZvlvFH2NA==",
    members=(
        Member(
            "package/dist/photoswipe-lightbox.esm.min.js",
            "b82c385604f90cc77082d8e1bd4f5ef7c9d3da62d95dcc3ff1691a4eb0dddd12",
        ),
        Member(
            "package/dist/photoswipe.esm.min.js", "542069771beb34dc461cdb9374da8af643c591ebf65d8ec36331dd9a0681ebd4"
        ),
        Member("package/dist/photoswipe.css", "b0eaaae0b9de064d25e2f18517b9011a526d9b2142376e1c0febd096cebab9f3"),
    ),
    license="MIT",
    source="https://github.com/dimsemenov/PhotoSwipe",
)
PACKAGES = (THUMBHASH, PHOTOSWIPE)


class VendorError(RuntimeError):
    pass


def sha256_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def stale_members(package: Package, dest: Path = VENDOR) -> list[Member]:
    """The package's files absent from `dest` or not byte for byte the pinned ones."""
    return [m for m in package.members if sha256_of(dest / m.filename) != m.sha256]


def missing(dest: Path = VENDOR, packages: tuple[Package, ...] = PACKAGES) -> list[str]:
    """The pinned files absent from `dest` or not byte for byte the pinned ones."""
    return [str(dest / m.filename) for p in packages for m in stale_members(p, dest)]


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


def unpack(tarball: bytes, package: Package) -> tuple[dict[Member, bytes], bytes | None]:
    """The browser files (each checked against its pinned sha256) and the licence text, if any."""
    check_integrity(tarball, package)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        files = {m: _read_member(archive, m.path) for m in package.members}
        license_text = next((t for n in LICENSE_NAMES if (t := _read_member(archive, n)) is not None), None)
    for member, data in files.items():
        if data is None:
            raise VendorError(f"{package.name} {package.version}: no {member.path} in the tarball")
        if hashlib.sha256(data).hexdigest() != member.sha256:
            raise VendorError(f"{package.name} {package.version}: {member.path} is not the pinned file (sha256)")
    return files, license_text


def readme(package: Package, license_text: bytes | None) -> str:
    names = ", ".join(m.filename for m in package.members)
    lines = [
        f"{names}: {package.name} {package.version}, licence {package.license}.",
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
    """`dest/<file>` is each pinned file: kept if all already are, else fetched, checked and written.
    The path of the first (the one the README is named after)."""
    target = dest / package.members[0].filename
    if not stale_members(package, dest):
        log(f"{target}: {package.name} {package.version}, already there")
        return target
    files, license_text = unpack(fetch(package.url), package)  # raises before anything is written
    dest.mkdir(parents=True, exist_ok=True)
    _write(dest / package.readme_name, readme(package, license_text).encode())
    for member, data in files.items():
        _write(dest / member.filename, data)
        log(f"{dest / member.filename}: {package.name} {package.version}, integrity verified")
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
