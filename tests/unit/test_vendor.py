"""The page's pinned third-party code: a tarball is used only when its npm integrity matches, and
the files it yields are served and published as JavaScript. No network: tarballs are built here."""

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


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def pinned(data: bytes, code: bytes = CODE) -> vendor.Package:
    """THUMBHASH's pins, for a tarball built here."""
    return dataclasses.replace(
        vendor.THUMBHASH,
        url="https://registry.example/fake.tgz",
        integrity=integrity_of(data),
        members=(vendor.Member("package/thumbhash.js", hashlib.sha256(code).hexdigest()),),
    )


LIGHTBOX = {
    "package/dist/lightbox.js": b"export default class Lightbox {}\n",
    "package/dist/core.js": b"export default class Core {}\n",
    "package/dist/core.css": b".core { display: none; }\n",
}


def pinned_lightbox(data: bytes) -> vendor.Package:
    """PHOTOSWIPE's shape (several files from one tarball), for a tarball built here."""
    return dataclasses.replace(
        vendor.PHOTOSWIPE,
        url="https://registry.example/lightbox.tgz",
        integrity=integrity_of(data),
        members=tuple(vendor.Member(path, hashlib.sha256(code).hexdigest()) for path, code in LIGHTBOX.items()),
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


def test_every_file_of_a_package_is_written_with_one_readme_naming_them_all(tmp_path):
    good = tarball(LIGHTBOX | {"package/LICENSE": b"MIT License\nCopyright (c) someone\n"})
    package = pinned_lightbox(good)
    vendor.ensure(package, dest=tmp_path, fetch=Registry(good), log=lambda _: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "core.css",
        "core.js",
        "lightbox.js",
        "lightbox.js.README.txt",
    ]
    for path, code in LIGHTBOX.items():
        assert (tmp_path / path.rsplit("/", 1)[1]).read_bytes() == code
    note = (tmp_path / "lightbox.js.README.txt").read_text()
    assert "lightbox.js, core.js, core.css: photoswipe 5.4.4, licence MIT" in note
    assert "Copyright (c) someone" in note and package.integrity in note


def test_a_package_missing_one_of_its_files_or_with_one_changed_writes_none(tmp_path):
    short = tarball({k: v for k, v in LIGHTBOX.items() if not k.endswith(".css")})
    package = dataclasses.replace(pinned_lightbox(tarball(LIGHTBOX)), integrity=integrity_of(short))
    with pytest.raises(vendor.VendorError, match="no package/dist/core.css"):
        vendor.ensure(package, dest=tmp_path, fetch=Registry(short), log=lambda _: None)
    changed = tarball(LIGHTBOX | {"package/dist/core.js": b"export default class Core { steal() {} }\n"})
    package = dataclasses.replace(pinned_lightbox(tarball(LIGHTBOX)), integrity=integrity_of(changed))
    with pytest.raises(vendor.VendorError, match="core.js is not the pinned file"):
        vendor.ensure(package, dest=tmp_path, fetch=Registry(changed), log=lambda _: None)
    assert list(tmp_path.iterdir()) == []


def test_one_stale_file_of_a_package_fetches_it_again(tmp_path):
    good = tarball(LIGHTBOX)
    registry = Registry(good)
    vendor.ensure(pinned_lightbox(good), dest=tmp_path, fetch=registry, log=lambda _: None)
    vendor.ensure(pinned_lightbox(good), dest=tmp_path, fetch=registry, log=lambda _: None)
    assert registry.requests == 1
    (tmp_path / "core.css").unlink()
    assert vendor.missing(tmp_path, (pinned_lightbox(good),)) == [str(tmp_path / "core.css")]
    vendor.ensure(pinned_lightbox(good), dest=tmp_path, fetch=registry, log=lambda _: None)
    assert registry.requests == 2 and (tmp_path / "core.css").read_bytes() == LIGHTBOX["package/dist/core.css"]


@pytest.mark.parametrize("package", vendor.PACKAGES, ids=lambda p: p.name)
def test_the_pins_are_npm_s(package):
    assert package.url == f"https://registry.npmjs.org/{package.name}/-/{package.name}-{package.version}.tgz"
    assert package.integrity.startswith("sha512-")
    assert len(base64.b64decode(package.integrity.removeprefix("sha512-"))) == 64
    assert package.members and all(len(m.sha256) == 64 and m.path.startswith("package/") for m in package.members)


def test_deploying_the_site_needs_the_vendored_file(tmp_path):
    with pytest.raises(vendor.VendorError, match=r"thumbhash.js, .*photoswipe.css: missing .*make vendor"):
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
