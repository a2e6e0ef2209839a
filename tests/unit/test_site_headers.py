"""bootstrap/site.py: the page's Content-Security-Policy and security headers, from a deploy's
outputs; the devserver sends them on every response (CloudFront's policy: test_bootstrap.py)."""

from __future__ import annotations

import json
import re

import pytest

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.plan import Deployment, deployment_outputs
from bootstrap.package import ROOT
from bootstrap.site import content_security_policy, page_headers

FRONTEND = ROOT / "frontend"


def outputs_of(cfg: StackConfig, site_url: str | None = None) -> dict:
    """What deploy writes to outputs.json for this config (the real function, made-up ids)."""
    site = {"DomainName": site_url.removeprefix("https://")} if site_url else {}
    deployment = Deployment(aws=None, cfg=cfg, site=site, api_id="a1b2c3", pool_id="p", client_id="c")
    return deployment_outputs(deployment)


LOCAL = StackConfig(target="embedded", region="us-east-1", endpoint_url="http://127.0.0.1:4566")


def aws(region: str) -> StackConfig:
    return StackConfig(
        target="aws",
        region=region,
        endpoint_url=None,
        bucket_suffix=f"-123456789012-{region}",
        site_bucket_enabled=True,
    )


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} twice"
        parsed[name] = sources
    return parsed


def test_the_local_policy_allows_the_emulator_and_nothing_else():
    policy = directives(content_security_policy(outputs_of(LOCAL)))
    assert policy == {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["data:", "http://127.0.0.1:4566"],  # placeholders; renditions (presigned GETs)
        "connect-src": ["'self'", "http://127.0.0.1:4566"],  # config.json; API, user pool and uploads
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1"])
def test_the_aws_policy_names_this_stack_s_api_user_pool_and_buckets(region):
    cfg = aws(region)
    policy = directives(content_security_policy(outputs_of(cfg, site_url="https://d111.cloudfront.net")))
    uploads = [f"https://{cfg.upload_bucket}.s3.{region}.amazonaws.com"]
    renditions = [f"https://{cfg.processed_bucket}.s3.{region}.amazonaws.com"]
    if region == "us-east-1":  # where botocore signs the bucket's global name
        uploads.append(f"https://{cfg.upload_bucket}.s3.amazonaws.com")
        renditions.append(f"https://{cfg.processed_bucket}.s3.amazonaws.com")
    assert policy["connect-src"] == [
        "'self'",
        f"https://a1b2c3.execute-api.{region}.amazonaws.com",
        f"https://cognito-idp.{region}.amazonaws.com",
        *uploads,
    ]
    assert policy["img-src"] == ["data:", *renditions]
    assert policy["frame-ancestors"] == ["'none'"] and policy["default-src"] == ["'none'"]
    assert policy["script-src"] == policy["style-src"] == ["'self'"]


def test_the_page_may_open_the_live_status_s_websocket_and_no_other():
    for cfg, socket in (
        (LOCAL, "ws://127.0.0.1:4566"),
        (aws("eu-west-1"), "wss://w9x8y7.execute-api.eu-west-1.amazonaws.com"),
    ):
        deployment = Deployment(aws=None, cfg=cfg, api_id="a1b2c3", pool_id="p", client_id="c", live_api_id="w9x8y7")
        outputs = deployment_outputs(deployment)
        connect = directives(content_security_policy(outputs))["connect-src"]
        assert socket in connect and outputs["siteConfig"]["eventsUrl"].startswith(socket)
        assert [s for s in connect if s.startswith("ws")] == [socket]


def test_the_buckets_are_reached_where_presigned_urls_point():
    """PUBLIC_S3_ENDPOINT (LocalStack in a container): the browser reaches S3 there, not at endpointUrl."""
    import dataclasses

    from handlers.config import Settings

    cfg = dataclasses.replace(LOCAL, settings=Settings(public_s3_endpoint="http://localhost:4599"))
    outputs = outputs_of(cfg)
    assert outputs["publicS3Endpoint"] == "http://localhost:4599"
    policy = directives(content_security_policy(outputs))
    assert policy["img-src"] == ["data:", "http://localhost:4599"]
    assert policy["connect-src"] == ["'self'", "http://127.0.0.1:4566", "http://localhost:4599"]


@pytest.mark.parametrize(
    "outputs", [outputs_of(LOCAL), outputs_of(aws("eu-west-1")), None], ids=["local", "aws", "none"]
)
def test_no_policy_allows_inline_code_wildcards_or_framing(outputs):
    policy = content_security_policy(outputs)
    assert not re.search(r"unsafe-|\*|blob:|http:(?!//)|https:(?!//)", policy), policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy and "base-uri 'none'" in policy
    assert page_headers(outputs) == {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def test_the_page_has_no_inline_script_or_style_for_the_policy_to_block():
    """The policy allows no 'unsafe-inline': the page must need none."""
    html = (FRONTEND / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # every script is a file
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", html, re.IGNORECASE)
    script = "".join(path.read_text() for path in (FRONTEND / "js").glob("*.js"))
    # Markup the scripts write carries no style or handler attributes either (styles go through the CSSOM).
    assert not re.search(r"""style=|\son[a-z]+=|setAttribute\(\s*["']style|eval\(|new Function""", script)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """The devserver's Flask app against a deploy's outputs.json in a temp state dir."""
    from devserver.app import create_app

    monkeypatch.setenv("IMAGEPIPE_STATE_DIR", str(tmp_path))
    (tmp_path / "outputs.json").write_text(json.dumps(outputs_of(LOCAL)))
    return create_app().test_client(), tmp_path


@pytest.mark.parametrize("path", ["/", "/js/main.js", "/style.css", "/config.json", "/no-such-file"])
def test_the_devserver_sends_the_policy_on_every_response(site, path):
    client, state = site
    response = client.get(path)
    expected = page_headers(json.loads((state / "outputs.json").read_text()))
    assert {name: response.headers.get(name) for name in expected} == expected
    assert "http://127.0.0.1:4566" in response.headers["Content-Security-Policy"]


def test_the_devserver_follows_a_redeploy_and_a_missing_stack(site):
    client, state = site
    (state / "outputs.json").write_text(json.dumps(outputs_of(LOCAL) | {"endpointUrl": "http://127.0.0.1:4999"}))
    assert "http://127.0.0.1:4999" in client.get("/").headers["Content-Security-Policy"]
    (state / "outputs.json").unlink()
    assert client.get("/").headers["Content-Security-Policy"] == content_security_policy(None)
