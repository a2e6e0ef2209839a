"""bootstrap/deploy/'s resource modules: least-privilege policies, sizes, and the calls of the
resources whose answers matter (concurrency, new roles, CloudFront's headers policy), stubbed.
(The whole plan and its dry run: test_deploy_plan.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bootstrap.deploy.config import StackConfig, processor_memory_mb
from bootstrap.deploy.iam import CLOUDWATCH_READS, function_policies
from handlers.formats import MIB, Limits

CFG = StackConfig(target="aws", region="eu-west-1", endpoint_url=None)
POOL_ARN = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123"
LIVE_API_ID = "abcdef1234"  # the live status's WebSocket API


def statements(role: str):
    return function_policies(CFG, "123456789012", POOL_ARN, LIVE_API_ID)[role]["Statement"]


def test_policies_name_actions_and_resources_exactly():
    for role in ("api", "processor", "presignup", "events", "live"):
        for statement in statements(role):
            actions = statement["Action"]
            resources = statement["Resource"]
            assert all("*" not in action for action in actions), (role, actions)
            # The one exception: the API's health report reads CloudWatch where no narrower resource
            # grants it (bootstrap/deploy/iam.py CLOUDWATCH_READS): those three reads only, on their own.
            if resources == ["*"] and role == "api" and actions == list(CLOUDWATCH_READS):
                continue
            assert "*" not in resources, (role, resources)
            assert all(r.startswith("arn:aws:") for r in resources)
    assert set(CLOUDWATCH_READS) == {"cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics"}


def test_each_function_gets_only_what_it_uses():
    def actions(role):
        return {a for s in statements(role) for a in s["Action"] if not a.startswith("logs:")}

    assert actions("api") == {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",  # a listing by status: the records byStatus holds the keys of
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",  # a deleted image's band items (near duplicates)
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:GetObject",
        "cognito-idp:AdminListGroupsForUser",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",
        "cloudwatch:ListMetrics",
    }
    # It re-links a lost account's images: finds them, asks the pool, re-owns them.
    assert actions("presignup") == {"dynamodb:Scan", "dynamodb:UpdateItem", "cognito-idp:AdminGetUser"}
    assert actions("processor") == {
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",  # the batch's reconcile: a record rebuilt from S3
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",  # a processed image's band items (near duplicates)
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "sqs:SendMessage",
        "lambda:InvokeFunction",
    }

    def resources(role, action):
        return [r for s in statements(role) if action in s["Action"] for r in s["Resource"]]

    # The processor writes renditions only, never into the bucket it reads from (no event loops);
    # there it may delete only what the API issued (the file of a deleted image) and list the
    # bucket (so a missing key answers 404, not 403).
    assert resources("processor", "s3:PutObject") == [f"arn:aws:s3:::{CFG.processed_bucket}/*"]
    assert resources("processor", "s3:DeleteObject") == [
        f"arn:aws:s3:::{CFG.upload_bucket}/uploads/*",
        f"arn:aws:s3:::{CFG.processed_bucket}/*",
    ]
    assert resources("processor", "s3:DeleteObjectVersion") == [f"arn:aws:s3:::{CFG.upload_bucket}/uploads/*"]
    assert resources("processor", "s3:ListBucket") == [
        f"arn:aws:s3:::{CFG.upload_bucket}",
        f"arn:aws:s3:::{CFG.processed_bucket}",  # reconcile's missing manifest: 404, not 403
    ]
    # It invokes itself only (the sweep's re-drives), and queries only the unfinished index and the
    # exact duplicates' (an owner's image with a file's bytes).
    assert resources("processor", "lambda:InvokeFunction") == [
        f"arn:aws:lambda:eu-west-1:123456789012:function:{CFG.function('processor')}"
    ]
    assert [r.rsplit("/", 1)[-1] for r in resources("processor", "dynamodb:Query")] == [
        "byUnfinished",
        "byOwnerContent",
        CFG.similar_table,  # a new photo's bands: the near-duplicate index, a table of its own
    ]
    # The near-duplicate index: the processor writes, queries and removes band items there only; the
    # API only removes a deleted image's (in one batch); neither may scan it, nor the images table.
    similar = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{CFG.similar_table}"
    table = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{CFG.table}"
    assert resources("processor", "dynamodb:BatchWriteItem") == [similar]
    assert resources("processor", "dynamodb:DeleteItem") == [table, similar]
    assert resources("api", "dynamodb:BatchWriteItem") == [similar]
    assert similar not in resources("api", "dynamodb:Query") + resources("api", "dynamodb:UpdateItem")
    assert similar not in resources("processor", "dynamodb:UpdateItem") + resources("processor", "dynamodb:PutItem")
    # Linking both ways: UpdateItem on the images table (what AWS checks for each item of a transaction).
    assert resources("processor", "dynamodb:UpdateItem") == [table]
    # The API signs uploads only under uploads/; it deletes any original (admins moderate files
    # put into the bucket directly too) and renditions.
    assert resources("api", "s3:PutObject") == [f"arn:aws:s3:::{CFG.upload_bucket}/uploads/*"]
    # It asks the stack's own user pool for a person's groups, and nothing else of Cognito.
    assert resources("api", "cognito-idp:AdminListGroupsForUser") == [POOL_ARN]
    assert resources("api", "s3:DeleteObject") == [
        f"arn:aws:s3:::{CFG.upload_bucket}/*",
        f"arn:aws:s3:::{CFG.processed_bucket}/*",
    ]
    # Its health report: the table's listing indexes, the unfinished one (the oldest upload) and the
    # status one (the admin's filter and counts), the content one (POST /uploads' exact duplicate),
    # and CloudWatch's alarm and metric reads, which no narrower resource grants.
    assert [r.rsplit("/", 1)[-1] for r in resources("api", "dynamodb:Query")[1:]] == [
        "byCreated",
        "byOwnerTaken",
        "byUnfinished",
        "byStatus",
        "byOwnerContent",
    ]
    assert all(resources("api", action) == ["*"] for action in CLOUDWATCH_READS)


def test_only_the_events_function_sends_events_and_only_to_the_stack_s_bus():
    """Image events come from the table's stream alone (bootstrap/deploy/bus.py): the events function
    reads that stream and sends to the stack's own bus, and nothing else; no other function may send
    events anywhere."""
    policies = function_policies(CFG, "123456789012", POOL_ARN)
    senders = {
        role
        for role, policy in policies.items()
        for statement in policy["Statement"]
        if any(action.startswith("events:") for action in statement["Action"])
    }
    assert senders == {"events"}
    granted = {
        action: statement["Resource"]
        for statement in statements("events")
        for action in statement["Action"]
        if not action.startswith("logs:")
    }
    stream = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{CFG.table}/stream/*"
    assert granted == {
        "events:PutEvents": [f"arn:aws:events:eu-west-1:123456789012:event-bus/{CFG.event_bus}"],
        "dynamodb:DescribeStream": [stream],
        "dynamodb:GetRecords": [stream],
        "dynamodb:GetShardIterator": [stream],
        "dynamodb:ListStreams": [stream],
    }


def test_processor_memory_is_its_decode_budget_plus_baseline_and_margin():
    assert processor_memory_mb(Limits()) == 1536  # the default 1 GiB budget
    assert processor_memory_mb(Limits(max_decode_bytes=512 * MIB)) == 1024
    assert processor_memory_mb(Limits(max_decode_bytes=2048 * MIB)) == 2560


@pytest.mark.parametrize("unreserved, expect_put", [(1000, True), (10, False)])
def test_reserved_concurrency_is_set_where_the_account_allows_it(unreserved, expect_put):
    """New accounts have 10 executions in all and AWS keeps 100 unreserved: deploy warns there."""

    import boto3
    from botocore.stub import Stubber

    from bootstrap.deploy.events import ensure_reserved_concurrency

    client = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response("get_function_concurrency", {}, {"FunctionName": "imagepipe-processor"})
        stub.add_response("get_account_settings", {"AccountLimit": {"UnreservedConcurrentExecutions": unreserved}}, {})
        if expect_put:
            stub.add_response(
                "put_function_concurrency",
                {"ReservedConcurrentExecutions": 10},
                {"FunctionName": "imagepipe-processor", "ReservedConcurrentExecutions": 10},
            )
        said = []
        ensure_reserved_concurrency(SimpleNamespace(lambda_=client), "imagepipe-processor", 10, log=said.append)
        stub.assert_no_pending_responses()
    assert bool(said) != expect_put and all("WARNING" in line for line in said)


def test_a_function_is_created_once_iam_lets_lambda_assume_its_new_role():
    """IAM is eventually consistent: Lambda refuses a role for seconds after it is made. Deploy
    retries exactly that refusal with growing waits (injected here), not a fixed sleep."""

    import boto3
    from botocore.stub import Stubber

    from bootstrap.deploy.functions import create_function_when_role_is_ready

    client = boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    params = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": b"z"}}
    not_yet = "The role defined for the function cannot be assumed by Lambda."
    waited = []
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error("create_function", "InvalidParameterValueException", not_yet, 400)
        stub.add_response("create_function", {"FunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:f"})
        arn = create_function_when_role_is_ready(SimpleNamespace(lambda_=client), params, wait=waited.append)
    assert arn.endswith(":function:f") and waited == [1, 2]
    with Stubber(client) as stub:  # any other refusal is not waited out
        stub.add_client_error("create_function", "InvalidParameterValueException", "Runtime is wrong", 400)
        with pytest.raises(client.exceptions.InvalidParameterValueException):
            create_function_when_role_is_ready(SimpleNamespace(lambda_=client), params, wait=waited.append)
    assert waited == [1, 2]


# --- the page's security headers on AWS: a CloudFront response headers policy ----------------


def test_the_site_headers_policy_is_made_once_kept_up_to_date_attached_and_removed(monkeypatch):
    """Deploy creates the policy (by name), attaches it to the distribution's default behavior, and
    on a later deploy changes nothing unless the CSP does (a new API: updated in place); destroy
    deletes it once the distribution is gone. Stubbed CloudFront: only these calls, in this order."""
    from datetime import UTC, datetime

    import boto3
    from botocore.stub import Stubber

    from bootstrap.deploy import site
    from bootstrap.deploy.plan import Deployment, deployment_outputs
    from bootstrap.deploy.site import ensure_site_headers, remove_site_distribution
    from bootstrap.site import cloudfront_security_headers

    cfg = StackConfig(
        target="aws",
        region="eu-west-1",
        endpoint_url=None,
        bucket_suffix="-123456789012-eu-west-1",
        site_bucket_enabled=True,
    )
    assert cfg.site_headers_policy == "imagepipe-site-headers-123456789012-eu-west-1"

    def outputs(api_id: str) -> dict:
        return deployment_outputs(
            Deployment(aws=None, cfg=cfg, site={"DomainName": "d1.cloudfront.net"}, api_id=api_id)
        )

    def wanted(api_id: str) -> dict:
        return {
            "Name": cfg.site_headers_policy,
            "Comment": "imagepipe: the page's CSP and security headers (bootstrap/site.py)",
            "SecurityHeadersConfig": cloudfront_security_headers(outputs(api_id)),
        }

    security = wanted("api1")["SecurityHeadersConfig"]
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    assert "https://api1.execute-api.eu-west-1.amazonaws.com" in csp and "frame-ancestors 'none'" in csp
    assert security["FrameOptions"]["FrameOption"] == "DENY" and security["ContentTypeOptions"]["Override"]
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000

    now = datetime(2026, 1, 1, tzinfo=UTC)
    listed_none = {"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": 0}}

    def policy_read_back(stub, custom) -> None:  # the policy as the first deploy made it
        stub.add_response("list_response_headers_policies", listed(wanted("api1")), custom)
        stub.add_response(
            "get_response_headers_policy_config",
            {"ResponseHeadersPolicyConfig": wanted("api1"), "ETag": "P1"},
            {"Id": "rhp1"},
        )

    def listed(config: dict) -> dict:
        policy = {"Id": "rhp1", "LastModifiedTime": now, "ResponseHeadersPolicyConfig": config}
        item = {"Type": "custom", "ResponseHeadersPolicy": policy}
        return {"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": 1, "Items": [item]}}

    def distribution_config(policy_id: str | None) -> dict:
        behavior = {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"}
        return {
            "CallerReference": "r",
            "Comment": cfg.site_distribution,
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": "b.s3.eu-west-1.amazonaws.com"}]},
            "DefaultCacheBehavior": behavior | ({"ResponseHeadersPolicyId": policy_id} if policy_id else {}),
        }

    client = boto3.client("cloudfront", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    aws = SimpleNamespace(cloudfront=client)
    distribution = {"Id": "D1"}
    custom = {"Type": "custom"}
    with Stubber(client) as stub:
        # The first deploy: made, then attached.
        stub.add_response("list_response_headers_policies", listed_none, custom)
        stub.add_response(
            "create_response_headers_policy",
            {
                "ResponseHeadersPolicy": {
                    "Id": "rhp1",
                    "LastModifiedTime": now,
                    "ResponseHeadersPolicyConfig": wanted("api1"),
                }
            },
            {"ResponseHeadersPolicyConfig": wanted("api1")},
        )
        stub.add_response(
            "get_distribution_config", {"DistributionConfig": distribution_config(None), "ETag": "E1"}, {"Id": "D1"}
        )
        stub.add_response(
            "update_distribution",
            {
                "Distribution": {
                    "Id": "D1",
                    "ARN": "arn:aws:cloudfront::123456789012:distribution/D1",
                    "Status": "InProgress",
                    "LastModifiedTime": now,
                    "InProgressInvalidationBatches": 0,
                    "DomainName": "d1.cloudfront.net",
                    "DistributionConfig": distribution_config("rhp1"),
                },
                "ETag": "E2",
            },
            {"Id": "D1", "IfMatch": "E1", "DistributionConfig": distribution_config("rhp1")},
        )
        assert ensure_site_headers(aws, cfg, outputs("api1"), distribution) == "rhp1"
        # Deployed again, nothing changed: read, never written.
        policy_read_back(stub, custom)
        stub.add_response(
            "get_distribution_config", {"DistributionConfig": distribution_config("rhp1"), "ETag": "E2"}, {"Id": "D1"}
        )
        assert ensure_site_headers(aws, cfg, outputs("api1"), distribution) == "rhp1"
        # A new API (another origin for connect-src): the policy is updated in place.
        policy_read_back(stub, custom)
        stub.add_response(
            "update_response_headers_policy",
            {
                "ResponseHeadersPolicy": {
                    "Id": "rhp1",
                    "LastModifiedTime": now,
                    "ResponseHeadersPolicyConfig": wanted("api2"),
                }
            },
            {"Id": "rhp1", "IfMatch": "P1", "ResponseHeadersPolicyConfig": wanted("api2")},
        )
        stub.add_response(
            "get_distribution_config", {"DistributionConfig": distribution_config("rhp1"), "ETag": "E2"}, {"Id": "D1"}
        )
        assert ensure_site_headers(aws, cfg, outputs("api2"), distribution) == "rhp1"
        stub.assert_no_pending_responses()

        # Destroy, the distribution already gone: the OAC, then the policy.
        monkeypatch.setattr(site, "find_site_distribution", lambda aws, cfg: None)
        stub.add_response(
            "list_origin_access_controls",
            {"OriginAccessControlList": {"Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": 0}},
            {},
        )
        stub.add_response("list_response_headers_policies", listed(wanted("api2")), custom)
        stub.add_response(
            "get_response_headers_policy",
            {
                "ResponseHeadersPolicy": {
                    "Id": "rhp1",
                    "LastModifiedTime": now,
                    "ResponseHeadersPolicyConfig": wanted("api2"),
                },
                "ETag": "P2",
            },
            {"Id": "rhp1"},
        )
        stub.add_response("delete_response_headers_policy", {}, {"Id": "rhp1", "IfMatch": "P2"})
        said = []
        remove_site_distribution(aws, cfg, said.append)
        stub.assert_no_pending_responses()
    assert said == [f"deleted response headers policy {cfg.site_headers_policy}"]
