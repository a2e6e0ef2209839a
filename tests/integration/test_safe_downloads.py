"""User story: the original I download from the gallery is the image the pipeline found, never a
web page or a script under an image's name. The attack itself, against the deployed stack: a real
JPEG that is also an HTML document, named photo.html (and declared as a PNG); an SVG declared as a
PNG, named x.png. S3 answers the original's presigned GET with the Content-Disposition and
Content-Type the API signed into it (`response-content-*`), so those headers are the API's word."""

from __future__ import annotations

import json

import pytest
import requests

from tests.hostile import HTML, SVG, html_jpeg

pytestmark = pytest.mark.integration


def test_a_jpeg_that_is_also_a_web_page_downloads_as_a_jpeg(stack):
    data = html_jpeg()
    created = stack.upload(data, "photo.html", "image/png")  # the form binds the declared type: S3 stores it
    image = stack.wait_final(created["id"])
    assert image["status"] == "processed" and image["format"] == "JPEG", image
    got = requests.get(image["original"]["url"], timeout=30)
    assert got.status_code == 200, got.text
    assert got.content == data and HTML in got.content  # the file itself, as it was uploaded
    assert got.headers["Content-Disposition"] == "attachment; filename*=UTF-8''photo.jpg"
    assert got.headers["Content-Type"] == "image/jpeg"


def test_a_file_that_failed_cannot_be_downloaded(stack):
    created = stack.upload(SVG, "x.png", "image/png")
    image = stack.wait_final(created["id"])
    assert image["status"] == "failed", image
    assert image["original"] is None and image["renditions"] == {}
    assert "/uploads/" not in json.dumps(image)  # no link to the file, under any name
    listed = stack.http.get(f"{stack.api}/images", params={"limit": 100}).json()["items"]
    assert [i["original"] for i in listed if i["id"] == created["id"]] == [None]
