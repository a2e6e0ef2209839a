"""The page's security headers, worked out from a deploy's outputs: the one source the devserver
(every response) and CloudFront's response headers policy (AWS) both take them from, so the two
say the same thing.

The Content-Security-Policy allows exactly what frontend/ uses: its own files (no inline script or
style: index.html has none, and its scripts set styles through the CSSOM only), config.json and the
API, the user pool's endpoint, the upload bucket (the presigned POST), the processed bucket's
renditions (presigned GETs) and data: images (the ThumbHash placeholders, the empty favicon).
Nothing may frame the page. The origins differ per target, so they come from the outputs.

Stdlib only: the devserver's container (devserver/Dockerfile) copies this file and nothing else
of bootstrap/.
"""

from __future__ import annotations

from urllib.parse import urlsplit

FRAME_OPTIONS = "DENY"
REFERRER_POLICY = "no-referrer"  # the page's URLs and the presigned ones it loads tell no one anything
HSTS_SECONDS = 2 * 365 * 24 * 3600  # over HTTPS only: CloudFront's


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, as CSP source expressions name an origin."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(f"not an http(s) or ws(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


def bucket_origins(outputs: dict, bucket: str) -> list[str]:
    """Where the browser reaches a bucket with the API's presigned URLs: the emulator's one
    endpoint locally (path-style); on AWS the bucket's virtual-hosted name, regional, and in
    us-east-1 also the global name botocore signs there."""
    endpoint = outputs.get("publicS3Endpoint") or outputs.get("endpointUrl")
    if endpoint:
        return [origin_of(endpoint)]
    region = outputs["region"]
    names = [f"https://{bucket}.s3.{region}.amazonaws.com"]
    if region == "us-east-1":
        names.append(f"https://{bucket}.s3.amazonaws.com")
    return names


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def content_security_policy(outputs: dict | None) -> str:
    """The page's CSP for the stack these outputs describe (None: nothing deployed yet, so the page
    may reach nothing but its own origin)."""
    outputs = outputs or {}
    auth = (outputs.get("siteConfig") or {}).get("auth") or {}
    connect, images = ["'self'"], ["data:"]
    # The API, the user pool, and the live status's WebSocket (eventsUrl, where there is one).
    urls = (outputs.get("apiUrl"), auth.get("endpoint"), outputs.get("eventsUrl"))
    connect += [origin_of(url) for url in urls if url]
    if outputs.get("uploadBucket"):
        connect += bucket_origins(outputs, outputs["uploadBucket"])
    if outputs.get("processedBucket"):
        images += bucket_origins(outputs, outputs["processedBucket"])
    directives = [
        ("default-src", ["'none'"]),
        ("script-src", ["'self'"]),
        ("style-src", ["'self'"]),
        ("img-src", _unique(images)),
        ("connect-src", _unique(connect)),
        ("form-action", ["'none'"]),  # the page's forms are handled by script; none is ever submitted
        ("frame-ancestors", ["'none'"]),
        ("base-uri", ["'none'"]),
        ("object-src", ["'none'"]),
    ]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives)


def page_headers(outputs: dict | None) -> dict[str, str]:
    """The headers every response of the site carries (the devserver's; CloudFront's below)."""
    return {
        "Content-Security-Policy": content_security_policy(outputs),
        "X-Frame-Options": FRAME_OPTIONS,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": REFERRER_POLICY,
    }


def cloudfront_security_headers(outputs: dict) -> dict:
    """The same headers as a CloudFront response headers policy's SecurityHeadersConfig, plus HSTS
    (the page is HTTPS only there). Override: the site bucket's objects can say nothing else."""
    return {
        "ContentSecurityPolicy": {"Override": True, "ContentSecurityPolicy": content_security_policy(outputs)},
        "FrameOptions": {"Override": True, "FrameOption": FRAME_OPTIONS},
        "ContentTypeOptions": {"Override": True},
        "ReferrerPolicy": {"Override": True, "ReferrerPolicy": REFERRER_POLICY},
        "StrictTransportSecurity": {
            "Override": True,
            "AccessControlMaxAgeSec": HSTS_SECONDS,
            "IncludeSubdomains": False,  # a custom domain (SITE_URL) may have subdomains this stack does not serve
            "Preload": False,
        },
    }
