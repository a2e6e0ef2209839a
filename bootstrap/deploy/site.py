"""The page over HTTPS (AWS target): a private bucket behind CloudFront, its security headers,
and the page's files published into it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from bootstrap import vendor
from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws
from bootstrap.deploy.storage import ensure_bucket
from bootstrap.site import cloudfront_security_headers

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"

SITE_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"  # AWS's managed cache policy


def ensure_origin_access_control(aws: Aws, cfg: StackConfig) -> str:
    name = f"{cfg.prefix}-site-oac"
    found = next(
        (
            o["Id"]
            for o in aws.cloudfront.list_origin_access_controls().get("OriginAccessControlList", {}).get("Items", [])
            if o["Name"] == name
        ),
        None,
    )
    return (
        found
        or aws.cloudfront.create_origin_access_control(
            OriginAccessControlConfig={
                "Name": name,
                "Description": "imagepipe: CloudFront reads the private site bucket",
                "SigningProtocol": "sigv4",
                "SigningBehavior": "always",
                "OriginAccessControlOriginType": "s3",
            }
        )["OriginAccessControl"]["Id"]
    )


def find_site_distribution(aws: Aws, cfg: StackConfig) -> dict | None:
    for page in aws.cloudfront.get_paginator("list_distributions").paginate():
        for item in page.get("DistributionList", {}).get("Items", []):
            if item.get("Comment") == cfg.site_distribution:
                return item
    return None


def site_distribution_config(aws: Aws, cfg: StackConfig) -> dict:
    return {
        "CallerReference": f"{cfg.prefix}-site-{cfg.bucket_suffix}",
        "Comment": cfg.site_distribution,
        "Enabled": True,
        "DefaultRootObject": "index.html",
        "PriceClass": "PriceClass_100",
        "HttpVersion": "http2and3",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "site",
                    "DomainName": f"{cfg.site_bucket}.s3.{cfg.region}.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": ensure_origin_access_control(aws, cfg),
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED,
            "Compress": True,
            "AllowedMethods": {
                "Quantity": 2,
                "Items": ["GET", "HEAD"],
                "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
            },
        },
    }


def ensure_site_distribution(aws: Aws, cfg: StackConfig) -> dict:
    """HTTPS for the page: CloudFront in front of the private site bucket, which it reads with an
    origin access control (the bucket allows this distribution only). Returns the distribution (Id,
    ARN, DomainName; when this deploy made it, also the ETag and config it was made with)."""
    ensure_bucket(aws, cfg, cfg.site_bucket)  # private, public access blocked like the others
    found = find_site_distribution(aws, cfg)
    if found is None:
        wanted = site_distribution_config(aws, cfg)
        created = aws.cloudfront.create_distribution(DistributionConfig=wanted)
        found = created["Distribution"] | {"ETag": created["ETag"], "DistributionConfig": wanted}
    aws.s3.put_bucket_policy(
        Bucket=cfg.site_bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "CloudFrontReadsTheSite",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudfront.amazonaws.com"},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{cfg.site_bucket}/*",
                        "Condition": {"StringEquals": {"AWS:SourceArn": found["ARN"]}},
                    }
                ],
            }
        ),
    )
    return found


def find_site_headers_policy(aws: Aws, cfg: StackConfig) -> str | None:
    marker = None
    while True:
        page = {"Marker": marker} if marker else {}
        listed = aws.cloudfront.list_response_headers_policies(Type="custom", **page)["ResponseHeadersPolicyList"]
        for item in listed.get("Items", []):
            policy = item["ResponseHeadersPolicy"]
            if policy["ResponseHeadersPolicyConfig"]["Name"] == cfg.site_headers_policy:
                return policy["Id"]
        marker = listed.get("NextMarker")
        if not marker:
            return None


def ensure_site_headers(aws: Aws, cfg: StackConfig, outputs: dict, distribution: dict) -> str:
    """The page's security headers (bootstrap/site.py, from the stack's outputs: the devserver
    sends the same) as a response headers policy, created or brought up to date by name, and
    attached to the distribution's default cache behavior (the one the site step made or found).
    Returns the policy's Id."""
    wanted = {
        "Name": cfg.site_headers_policy,
        "Comment": "imagepipe: the page's CSP and security headers (bootstrap/site.py)",
        "SecurityHeadersConfig": cloudfront_security_headers(outputs),
    }
    policy_id = find_site_headers_policy(aws, cfg)
    if policy_id is None:
        created = aws.cloudfront.create_response_headers_policy(ResponseHeadersPolicyConfig=wanted)
        policy_id = created["ResponseHeadersPolicy"]["Id"]
    else:
        current = aws.cloudfront.get_response_headers_policy_config(Id=policy_id)
        config = current["ResponseHeadersPolicyConfig"]
        if any(config.get(k) != v for k, v in wanted.items()):  # a new API or bucket origin
            aws.cloudfront.update_response_headers_policy(
                Id=policy_id, IfMatch=current["ETag"], ResponseHeadersPolicyConfig=wanted
            )
    if "DistributionConfig" in distribution:  # just made by this deploy: what it sent
        etag, config = distribution["ETag"], distribution["DistributionConfig"]
    else:
        current = aws.cloudfront.get_distribution_config(Id=distribution["Id"])
        etag, config = current["ETag"], current["DistributionConfig"]
    if config["DefaultCacheBehavior"].get("ResponseHeadersPolicyId") != policy_id:
        config = config | {
            "DefaultCacheBehavior": config["DefaultCacheBehavior"] | {"ResponseHeadersPolicyId": policy_id}
        }
        aws.cloudfront.update_distribution(Id=distribution["Id"], IfMatch=etag, DistributionConfig=config)
    return policy_id


def check_vendored(frontend: Path) -> None:
    """The page's pinned third-party code (git-ignored) must be there before the page is published."""
    absent = vendor.missing(frontend / "vendor")
    if absent:
        raise vendor.VendorError(
            f"{', '.join(absent)}: missing or not the pinned file; run `make vendor` "
            "(python -m bootstrap.vendor) before deploying the site"
        )


def publish_site(aws: Aws, cfg: StackConfig, frontend: Path, config: dict) -> None:
    """The frontend/ files and config.json into the site bucket; no-cache, so a redeploy shows at once."""
    for path in sorted(p for p in frontend.rglob("*") if p.is_file()):
        aws.s3.put_object(
            Bucket=cfg.site_bucket,
            Key=path.relative_to(frontend).as_posix(),
            Body=path.read_bytes(),
            ContentType=SITE_CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            CacheControl="no-cache",
        )
    aws.s3.put_object(
        Bucket=cfg.site_bucket,
        Key="config.json",
        Body=json.dumps(config).encode(),
        ContentType="application/json",
        CacheControl="no-cache",
    )


def remove_site_distribution(
    aws: Aws, cfg: StackConfig, log: Callable[[str], None], wait: Callable[[float], None] = time.sleep
) -> None:
    """Disable, wait until CloudFront has deployed that (minutes on AWS), delete; then the OAC and the
    response headers policy, which CloudFront keeps while a distribution uses them."""
    found = find_site_distribution(aws, cfg)
    if found is not None:
        current = aws.cloudfront.get_distribution_config(Id=found["Id"])
        if current["DistributionConfig"]["Enabled"]:
            log(f"disabling CloudFront distribution {found['Id']} (AWS takes minutes to deploy that)")
            config = current["DistributionConfig"] | {"Enabled": False}
            current = aws.cloudfront.update_distribution(
                Id=found["Id"], IfMatch=current["ETag"], DistributionConfig=config
            )
        aws.wait(aws.cloudfront, "distribution_deployed", Id=found["Id"], WaiterConfig={"Delay": 20, "MaxAttempts": 90})
        etag = aws.cloudfront.get_distribution(Id=found["Id"])["ETag"]
        aws.cloudfront.delete_distribution(Id=found["Id"], IfMatch=etag)
        log(f"deleted CloudFront distribution {found['Id']}")
    for oac in aws.cloudfront.list_origin_access_controls().get("OriginAccessControlList", {}).get("Items", []):
        if oac["Name"] == f"{cfg.prefix}-site-oac":
            etag = aws.cloudfront.get_origin_access_control(Id=oac["Id"])["ETag"]
            aws.cloudfront.delete_origin_access_control(Id=oac["Id"], IfMatch=etag)
            log(f"deleted origin access control {oac['Name']}")
    policy_id = find_site_headers_policy(aws, cfg)  # once no distribution uses it
    if policy_id is not None:
        etag = aws.cloudfront.get_response_headers_policy(Id=policy_id)["ETag"]
        aws.cloudfront.delete_response_headers_policy(Id=policy_id, IfMatch=etag)
        log(f"deleted response headers policy {cfg.site_headers_policy}")
