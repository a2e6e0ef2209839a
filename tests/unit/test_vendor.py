"""The page's pinned third-party code: a tarball is used only when its npm integrity matches, and
the file it yields is served and published as JavaScript. No network: tarballs are built here."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import tarfile

import pytest

from bootstrap import vendor
from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws
from bootstrap.deploy.site import check_vendored, publish_site
from bootstrap.deploy.storage import ensure_bucket

CODE = b"export function thumbHashToDataURL(hash) { return 'data:' }\n"


def tarball(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def pinned(data: bytes, code: bytes = CODE) -> vendor.Package:
    """THUMBHASH's pins, for a tarball built here."""
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    return dataclasses.replace(
        vendor.THUMBHASH,
        url="https://registry.example/fake.tgz",
        integrity=integrity,
        sha256=hashlib.sha256(code).hexdigest(),
    )


class Registry:
    """Serves one tarball and counts requests."""

    def __init__(self, data: bytes):
        self.data, self.requests = data, 0

    def __call__(self, url: str) -> bytes:
        self.requests += 1
        return self.data


def test_a_good_tarball_yields_the_browser_file_and_its_licence_note(tmp_path):
    good = tarball({"package/thumbhash.js": CODE, "package/package.json": b"{}"})
    package = pinned(good)
    target = vendor.ensure(package, dest=tmp_path / "vendor", fetch=Registry(good), log=lambda _: None)
    assert target == tmp_path / "vendor" / "thumbhash.js"
    assert target.read_bytes() == CODE
    note = (tmp_path / "vendor" / "thumbhash.js.README.txt").read_text()
    assert "thumbhash 0.1.1" in note and "MIT" in note and package.integrity in note
    assert sorted(p.name for p in (tmp_path / "vendor").iterdir()) == ["thumbhash.js", "thumbhash.js.README.txt"]


def test_the_package_s_licence_file_is_kept_when_it_has_one(tmp_path):
    good = tarball({"package/thumbhash.js": CODE, "package/LICENSE": b"MIT License\nCopyright (c) someone\n"})
    vendor.ensure(pinned(good), dest=tmp_path, fetch=Registry(good), log=lambda _: None)
    assert "Copyright (c) someone" in (tmp_path / "thumbhash.js.README.txt").read_text()


def test_a_tampered_tarball_is_refused_and_nothing_written(tmp_path):
    package = pinned(tarball({"package/thumbhash.js": CODE}))
    tampered = tarball({"package/thumbhash.js": b"export function thumbHashToDataURL() { steal() }\n"})
    with pytest.raises(vendor.VendorError, match="fails its integrity check.*nothing was written"):
        vendor.ensure(package, dest=tmp_path / "vendor", fetch=Registry(tampered), log=lambda _: None)
    assert not (tmp_path / "vendor").exists()


def test_one_flipped_byte_is_refused(tmp_path):
    good = tarball({"package/thumbhash.js": CODE})
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 1
    with pytest.raises(vendor.VendorError, match="integrity"):
        vendor.ensure(pinned(good), dest=tmp_path, fetch=Registry(bytes(flipped)), log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_only_sha512_integrity_is_accepted(tmp_path):
    good = tarball({"package/thumbhash.js": CODE})
    sha1 = dataclasses.replace(pinned(good), integrity="sha1-" + base64.b64encode(hashlib.sha1(good).digest()).decode())
    with pytest.raises(vendor.VendorError, match="only sha512"):
        vendor.ensure(sha1, dest=tmp_path, fetch=Registry(good), log=lambda _: None)


def test_a_tarball_without_the_file_or_with_another_file_is_refused(tmp_path):
    renamed = tarball({"package/dist/thumbhash.mjs": CODE})
    with pytest.raises(vendor.VendorError, match="no package/thumbhash.js"):
        vendor.ensure(pinned(renamed), dest=tmp_path, fetch=Registry(renamed), log=lambda _: None)
    other = tarball({"package/thumbhash.js": b"// another release\n"})
    with pytest.raises(vendor.VendorError, match="not the pinned file"):
        vendor.ensure(pinned(other), dest=tmp_path, fetch=Registry(other), log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_no_download_when_the_pinned_file_is_there(tmp_path):
    good = tarball({"package/thumbhash.js": CODE})
    registry = Registry(good)
    vendor.ensure(pinned(good), dest=tmp_path, fetch=registry, log=lambda _: None)
    vendor.ensure(pinned(good), dest=tmp_path, fetch=registry, log=lambda _: None)
    assert registry.requests == 1
    (tmp_path / "thumbhash.js").write_bytes(b"// edited by hand\n")  # not the pinned file: fetched again
    assert vendor.missing(tmp_path, (pinned(good),)) == [str(tmp_path / "thumbhash.js")]
    vendor.ensure(pinned(good), dest=tmp_path, fetch=registry, log=lambda _: None)
    assert registry.requests == 2 and (tmp_path / "thumbhash.js").read_bytes() == CODE


def test_the_pins_are_npm_s():
    assert vendor.THUMBHASH.url == "https://registry.npmjs.org/thumbhash/-/thumbhash-0.1.1.tgz"
    assert vendor.THUMBHASH.integrity.startswith("sha512-")
    assert len(base64.b64decode(vendor.THUMBHASH.integrity.removeprefix("sha512-"))) == 64


def test_deploying_the_site_needs_the_vendored_file(tmp_path):
    with pytest.raises(vendor.VendorError, match=r"thumbhash.js: missing .*make vendor"):
        check_vendored(tmp_path)


def test_vendored_files_are_published_and_served_as_javascript(tmp_path, aws_env, monkeypatch):
    frontend = tmp_path / "frontend"
    (frontend / "vendor").mkdir(parents=True)
    (frontend / "index.html").write_text("<!doctype html>")
    (frontend / "vendor" / "thumbhash.js").write_bytes(CODE)
    (frontend / "vendor" / "thumbhash.js.README.txt").write_text("MIT")
    cfg = StackConfig(target="aws", region="us-east-1", endpoint_url=None)
    aws = Aws(cfg)
    ensure_bucket(aws, cfg, cfg.site_bucket)
    publish_site(aws, cfg, frontend, {"apiUrl": "x"})
    head = aws.s3.head_object(Bucket=cfg.site_bucket, Key="vendor/thumbhash.js")
    assert head["ContentType"] == "text/javascript; charset=utf-8"
    assert aws.s3.head_object(Bucket=cfg.site_bucket, Key="vendor/thumbhash.js.README.txt")["ContentType"].startswith(
        "text/plain"
    )

    from devserver import app as devserver

    monkeypatch.setattr(devserver, "FRONTEND", frontend)
    served = devserver.create_app().test_client().get("/vendor/thumbhash.js")
    assert served.status_code == 200 and served.data == CODE
    assert served.mimetype in ("text/javascript", "application/javascript")  # what ES modules need
