"""User story: `make deploy-aws` / `make destroy-aws` do what they say. The AWS code path runs
here against the emulator (AWS_ENDPOINT_URL), so every call and parameter is a real one:
global bucket names, the page and its config.json in a private bucket behind CloudFront
(HTTPS), and a teardown that leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import requests
from botocore.exceptions import ClientError

from bootstrap.deploy.identity import create_user
from bootstrap.local import EMULATOR_PYTHON
from bootstrap.package import ROOT
from bootstrap.site import content_security_policy
from tests.images import phone_jpeg

pytestmark = pytest.mark.integration
EMULATOR_VERSION = tuple(
    int(x)
    for x in subprocess.run(
        [str(EMULATOR_PYTHON), "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True
    ).stdout.split()
    or (3, 11)
)


def run(stack, tmp_path, *args):
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": stack.endpoint,
        "IMAGEPIPE_STATE_DIR": str(tmp_path),
        "STACK_PREFIX": "ipaws",
        "AWS_REGION": "us-east-1",
        **dict(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), stack.credentials, strict=True)),
    }
    if stack.backend == "embedded":  # MiniStack runs functions with its own interpreter: build for it
        env["LAMBDA_PYTHON_VERSION"] = "{}.{}".format(*EMULATOR_VERSION)
    env.pop("SITE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bootstrap", *args, "--target", "aws"], env=env, cwd=ROOT, capture_output=True, text=True
    )


HEADERS_POLICY = "ipaws-site-headers-000000000000-us-east-1"


def site_headers_policy(cloudfront) -> str | None:
    """The Id of the page's response headers policy (by its name), or None."""
    listed = cloudfront.list_response_headers_policies(Type="custom")["ResponseHeadersPolicyList"]
    found = [
        i["ResponseHeadersPolicy"]["Id"]
        for i in listed.get("Items", [])
        if i["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"] == HEADERS_POLICY
    ]
    assert len(found) <= 1, found  # made once, however often deploy runs
    return found[0] if found else None


def attached_policy(cloudfront, outputs: dict) -> str | None:
    distribution = outputs["siteUrl"].removeprefix("https://").split(".")[0]
    items = cloudfront.list_distributions()["DistributionList"]["Items"]
    (found,) = [d for d in items if d["DomainName"].split(".")[0] == distribution]
    return found["DefaultCacheBehavior"].get("ResponseHeadersPolicyId")


def assert_page_headers(served: requests.Response, outputs: dict) -> None:
    """What CloudFront's response headers policy adds: the CSP the devserver sends too (the same
    function, from the same outputs), framing refused, no sniffing, no referrer, HSTS."""
    assert served.headers.get("Content-Security-Policy") == content_security_policy(outputs)
    assert "frame-ancestors 'none'" in served.headers["Content-Security-Policy"]
    assert served.headers.get("X-Frame-Options") == "DENY"
    assert served.headers.get("X-Content-Type-Options") == "nosniff"
    assert served.headers.get("Referrer-Policy") == "no-referrer"
    assert served.headers.get("Strict-Transport-Security", "").startswith("max-age=63072000")


def test_deploy_to_aws_then_destroy_leaves_nothing(stack, tmp_path):
    deployed = run(stack, tmp_path, "deploy")
    assert deployed.returncode == 0, deployed.stderr
    outputs = json.loads(deployed.stdout)
    account = "000000000000"
    assert outputs["uploadBucket"] == f"ipaws-uploads-{account}-us-east-1"
    assert outputs["siteBucket"] == f"ipaws-site-{account}-us-east-1"
    assert outputs["siteUrl"].startswith("https://") and outputs["siteUrl"].endswith(".cloudfront.net")

    s3 = stack.client("s3")
    site = outputs["siteBucket"]
    config = json.loads(s3.get_object(Bucket=site, Key="config.json")["Body"].read())
    assert config == outputs["siteConfig"] and config["apiUrl"] == outputs["apiUrl"]
    index = s3.get_object(Bucket=site, Key="index.html")
    assert index["ContentType"].startswith("text/html")
    assert index["Body"].read() == (ROOT / "frontend" / "index.html").read_bytes()
    assert s3.head_object(Bucket=site, Key="js/main.js")["ContentType"].startswith("text/javascript")
    # The page through CloudFront (the emulator routes by Host, as CloudFront's edge does); the
    # bucket itself is private, images and page alike.
    host = outputs["siteUrl"].removeprefix("https://")
    served = requests.get(
        f"{stack.endpoint}/index.html", headers={"Host": host, "X-Forwarded-Proto": "https"}, allow_redirects=False
    )
    assert served.status_code == 200, (served.status_code, served.headers, served.text[:300])
    assert served.content == (ROOT / "frontend" / "index.html").read_bytes()
    assert_page_headers(served, outputs)
    served = requests.get(f"{stack.endpoint}/config.json", headers={"Host": host, "X-Forwarded-Proto": "https"})
    assert served.json() == config
    assert_page_headers(served, outputs)
    cloudfront = stack.client("cloudfront")
    policy_id = site_headers_policy(cloudfront)
    assert policy_id and attached_policy(cloudfront, outputs) == policy_id
    if stack.backend == "embedded":  # AUTH=true: unsigned reads of private buckets are refused
        assert requests.get(f"{stack.endpoint}/{site}/index.html").status_code == 403
        assert requests.get(f"{stack.endpoint}/{outputs['uploadBucket']}/x").status_code == 403
    cors = s3.get_bucket_cors(Bucket=outputs["uploadBucket"])["CORSRules"][0]["AllowedOrigins"]
    assert cors == [outputs["siteUrl"]]

    # Data protection the AWS way: versioned originals whose old versions expire, and the table's
    # point-in-time recovery.
    assert s3.get_bucket_versioning(Bucket=outputs["uploadBucket"])["Status"] == "Enabled"
    rule = s3.get_bucket_lifecycle_configuration(Bucket=outputs["uploadBucket"])["Rules"][0]
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    dynamodb = stack.client("dynamodb")
    backups = dynamodb.describe_continuous_backups(TableName=outputs["table"])["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"

    # The processor has its own reserved concurrency on AWS, and the memory its budget needs.
    lam = stack.client("lambda")
    processor = outputs["functions"]["processor"]
    assert lam.get_function_concurrency(FunctionName=processor)["ReservedConcurrentExecutions"] == 10
    assert lam.get_function_configuration(FunctionName=processor)["MemorySize"] == 1536

    # On AWS the page confirms sign-ups with the emailed code: no auto-confirming trigger there.
    assert config["auth"] == {
        "region": "us-east-1",
        "userPoolId": outputs["userPoolId"],
        "clientId": outputs["userPoolClientId"],
        "endpoint": stack.endpoint,
        "confirmSignUp": True,
        "passwordMinLength": 10,
    }
    cognito = stack.client("cognito-idp")
    assert "PreSignUp" not in cognito.describe_user_pool(UserPoolId=outputs["userPoolId"])["UserPool"].get(
        "LambdaConfig", {}
    )

    # The deployed API and processor work end to end, signed in.
    create_user(SimpleNamespace(cognito=cognito), outputs["userPoolId"], "aws@example.com", "a-long-password")
    token = cognito.initiate_auth(
        ClientId=outputs["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "aws@example.com", "PASSWORD": "a-long-password"},
    )
    auth = {"Authorization": token["AuthenticationResult"]["IdToken"]}
    assert requests.get(f"{outputs['apiUrl']}/images").status_code == 401
    data = phone_jpeg(640, 480)
    created = requests.post(
        f"{outputs['apiUrl']}/uploads",
        headers=auth,
        json={"filename": "aws.jpg", "contentType": "image/jpeg", "size": len(data)},
    ).json()
    assert stack.post_file(created["upload"], data, "image/jpeg").status_code in (200, 204)
    for _ in range(120):
        image = requests.get(f"{outputs['apiUrl']}/images/{created['id']}", headers=auth).json()
        if image["status"] in ("processed", "failed"):
            break
        time.sleep(0.5)
    assert image["status"] == "processed", image

    # Image events: the stack's own bus, and the table's stream read by the events function.
    assert stack.client("events").describe_event_bus(Name=outputs["eventBus"])["Arn"] == outputs["eventBusArn"]
    (mapping,) = lam.list_event_source_mappings(FunctionName=outputs["functions"]["events"])["EventSourceMappings"]
    assert mapping["EventSourceArn"] == dynamodb.describe_table(TableName=outputs["table"])["Table"]["LatestStreamArn"]

    # Live status: the WebSocket API, its routes behind the token authorizer, the connections table,
    # the bus's rule to the live function; config.json names the API.
    apigw2 = stack.client("apigatewayv2")
    assert (
        config["eventsUrl"]
        == outputs["eventsUrl"]
        == f"{stack.endpoint.replace('http', 'ws')}/_aws/execute-api/{outputs['liveApiId']}/v1"
    )
    routes = {r["RouteKey"]: r for r in apigw2.get_routes(ApiId=outputs["liveApiId"])["Items"]}
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert (
        dynamodb.describe_table(TableName=outputs["connectionsTable"])["Table"]["KeySchema"][0]["AttributeName"]
        == "owner"
    )
    (target,) = stack.client("events").list_targets_by_rule(Rule="ipaws-live", EventBusName=outputs["eventBus"])[
        "Targets"
    ]
    assert target["Arn"].endswith(":function:ipaws-live")

    again = run(stack, tmp_path, "deploy")  # idempotent on this path too
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["apiId"] == outputs["apiId"]
    assert json.loads(again.stdout)["userPoolId"] == outputs["userPoolId"]
    assert json.loads(again.stdout)["liveApiId"] == outputs["liveApiId"]
    assert len(apigw2.get_routes(ApiId=outputs["liveApiId"])["Items"]) == 3  # made once
    assert site_headers_policy(cloudfront) == policy_id and attached_policy(cloudfront, outputs) == policy_id

    destroyed = run(stack, tmp_path, "destroy")
    assert destroyed.returncode == 0, destroyed.stderr
    for bucket in (outputs["uploadBucket"], outputs["processedBucket"], site):
        with pytest.raises(ClientError):
            s3.head_bucket(Bucket=bucket)
    lam = stack.client("lambda")
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert not {n for n in names if n.startswith("ipaws-")}
    apis = stack.client("apigateway").get_rest_apis()["items"]
    assert not [a for a in apis if a["name"].startswith("ipaws-")]
    cloudfront = stack.client("cloudfront")
    distributions = cloudfront.list_distributions().get("DistributionList", {}).get("Items", [])
    assert not [d for d in distributions if d["Comment"] == "ipaws site"]
    oacs = cloudfront.list_origin_access_controls().get("OriginAccessControlList", {}).get("Items", [])
    assert not [o for o in oacs if o["Name"].startswith("ipaws-")]
    assert site_headers_policy(cloudfront) is None
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    assert not [p for p in pools if p["Name"].startswith("ipaws-")]
    assert stack.client("events").list_event_buses(NamePrefix="ipaws-")["EventBuses"] == []
    assert not [a for a in apigw2.get_apis()["Items"] if a["Name"].startswith("ipaws-")]
    assert not [t for t in dynamodb.list_tables()["TableNames"] if t.startswith("ipaws-")]
    mappings = lam.list_event_source_mappings(FunctionName=outputs["functions"]["events"])["EventSourceMappings"]
    assert mappings == []
    # The embedded stack in the same emulator is untouched.
    assert stack.http.get(f"{stack.api}/images", params={"limit": 1}).status_code == 200


def test_dry_run_calls_nothing(stack, tmp_path):
    result = run(stack, tmp_path, "deploy", "--dry-run")
    assert result.returncode == 0
    assert 's3.create_bucket(Bucket="ipaws-site-ACCOUNT-us-east-1"' in result.stdout  # the account is not asked
    assert "cloudfront.create_response_headers_policy(" in result.stdout
    assert 'apigatewayv2.create_api(Name="ipaws-live", ProtocolType="WEBSOCKET"' in result.stdout
    assert not (tmp_path / "outputs.json").exists()
    # Nothing reached the emulator the stack points at.
    assert not [b for b in stack.client("s3").list_buckets()["Buckets"] if b["Name"].startswith("ipaws-")]
    assert not [a for a in stack.client("apigateway").get_rest_apis()["items"] if a["name"].startswith("ipaws-")]
    assert not [a for a in stack.client("apigatewayv2").get_apis()["Items"] if a["Name"].startswith("ipaws-")]
