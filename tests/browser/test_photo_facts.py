"""User story: the preview tells me when and with what my photo was taken, never where; Download
gives me my file as I uploaded it."""

from __future__ import annotations

import re

import pytest
import requests
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from tests.browser.page import ARTIFACTS, axe_violations, expect, new_page, path_of, sign_in, upload_as
from tests.images import GPS_TAGS, encode, photo

pytestmark = pytest.mark.browser


SERIAL = "SN-4471-QX-0925"


def camera_jpeg() -> bytes:
    """A camera's JPEG: what it was taken with and when, and also where (GPS) and the body's
    serial number, which are no one's business."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "FUJIFILM"
    exif[ExifTags.Base.Model] = "X100V"
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2015:09:06 18:46:57"
    details[ExifTags.Base.OffsetTimeOriginal] = "+02:00"
    details[ExifTags.Base.FNumber] = IFDRational(45, 10)
    details[ExifTags.Base.ExposureTime] = IFDRational(1, 15)
    details[ExifTags.Base.ISOSpeedRatings] = 200
    details[ExifTags.Base.FocalLength] = IFDRational(23, 1)
    details[ExifTags.Base.LensModel] = "XF23mmF2 R WR"
    details[0xA431] = SERIAL  # BodySerialNumber
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS_TAGS)
    return encode(photo(1200, 900, seed=7), "JPEG", quality=90, exif=exif.tobytes())


def test_the_preview_tells_when_and_with_what_a_photo_was_taken_never_where(browser, site, stack, user):
    """The preview lists the photo's facts for people (the camera's own time, in words; camera,
    lens, aperture, exposure, ISO, focal length). Its GPS position and the camera's serial number
    appear nowhere: not in the dialog, not in the API. Download gives the file as uploaded."""
    original = camera_jpeg()
    image = upload_as(stack, user, original, "holiday.jpg")
    assert image["status"] == "processed", image["error"]
    for answer in (
        user.http.get(f"{stack.api}/images/{image['id']}").text,
        user.http.get(f"{stack.api}/images").text,
    ):
        assert SERIAL not in answer
        assert not re.search(r"gps|latitude|longitude", answer, re.IGNORECASE)

    # Another time zone than the camera's: the time shown is still the one the camera wrote.
    page = new_page(browser, locale="en-GB", timezone_id="America/New_York")
    sign_in(page, site, user)
    page.locator(f"#gallery li.tile[data-id='{image['id']}'] button").click()
    viewer = page.locator("#viewer")
    viewer.wait_for(state="visible")
    facts = page.locator("#viewer-facts")
    expect(facts).to_be_visible()
    rows = dict(
        zip(
            facts.locator("dt").all_inner_texts(),
            facts.locator("dd").all_inner_texts(),
            strict=True,
        )
    )
    assert rows == {
        "Taken": "6 September 2015 at 18:46 (UTC+02:00)",
        "Camera": "FUJIFILM X100V",
        "Lens": "XF23mmF2 R WR",
        "Aperture": "f/4.5",
        "Exposure": "1/15 s",
        "ISO": "200",
        "Focal length": "23 mm",
    }
    text = viewer.inner_text()
    assert SERIAL not in text
    assert not re.search(r"gps|latitude|longitude|52°|52\.5", text, re.IGNORECASE)

    download = page.get_by_role("link", name="Download original")
    assert path_of(download.get_attribute("href")) == path_of(image["original"]["url"])
    got = requests.get(download.get_attribute("href"), timeout=30)
    assert got.status_code == 200 and got.content == original  # the file itself, EXIF and all: it is theirs
    assert got.headers["content-disposition"].startswith("attachment")
    expect(page.locator("#viewer-image")).to_have_css("opacity", "1")  # arrived, and faded in
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "preview-facts.png"))
    assert axe_violations(page) == []
    page.context.close()
