"""Each product fact has one home in code; the copies that cannot import it (openapi.yaml, the
page) must agree with it, or this fails."""

from __future__ import annotations

import re

import yaml

from bootstrap.package import ROOT
from handlers.api import MAX_BODY_BYTES
from handlers.formats import ACCEPTED_CONTENT_TYPES, Limits
from handlers.schema import DEFAULT_PAGE, MAX_PAGE

SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())


def upload_body() -> dict:
    return SPEC["paths"]["/uploads"]["post"]["requestBody"]


def test_openapi_accepts_exactly_the_types_the_api_accepts():
    properties = upload_body()["content"]["application/json"]["schema"]["properties"]
    assert set(properties["contentType"]["enum"]) == ACCEPTED_CONTENT_TYPES


def test_openapi_size_limits_are_the_code_s():
    properties = upload_body()["content"]["application/json"]["schema"]["properties"]
    assert properties["size"]["maximum"] == Limits().max_bytes
    assert f"At most {MAX_BODY_BYTES} bytes" in upload_body()["description"]


def test_openapi_page_sizes_are_the_code_s():
    limit = next(p for p in SPEC["paths"]["/images"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["maximum"], limit["schema"]["default"]) == (MAX_PAGE, DEFAULT_PAGE)


def test_the_page_takes_its_limits_from_config_json_not_from_copies():
    """The page's types, size limit and page size come from /config.json (written by bootstrap
    from the same code); none of them is written into the page itself."""
    frontend = ROOT / "frontend"
    page = "".join(path.read_text() for path in [frontend / "index.html", *(frontend / "js").glob("*.js")])
    assert not re.search(r"image/(jpeg|png|webp|gif|avif|heic|heif)", page)
    assert not re.search(r"\b25 ?M(i)?B\b|26214400|\|\| 24\b", page)
    for key in ("config.acceptedTypes", "config.maxBytes", "config.pageSize"):
        assert key in page, key


def test_bootstrap_writes_the_page_s_config_from_the_same_code():
    from bootstrap.deploy.config import StackConfig
    from bootstrap.deploy.plan import site_config

    config = site_config(StackConfig(target="embedded", region="us-east-1", endpoint_url="http://x"), "u", "p", "c")
    assert set(config["acceptedTypes"]) == ACCEPTED_CONTENT_TYPES
    assert (config["maxBytes"], config["pageSize"]) == (Limits().max_bytes, DEFAULT_PAGE)
