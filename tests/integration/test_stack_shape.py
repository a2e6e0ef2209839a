"""User story: as an operator, what bootstrap deployed is what the docs say it deploys."""

from __future__ import annotations

import json

import pytest

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.iam import function_policies

pytestmark = pytest.mark.integration


def client(stack, name):
    return stack.client(name)


def test_buckets_block_public_access_and_only_the_site_may_post(stack):
    s3 = stack.s3()
    for bucket in (stack.outputs["uploadBucket"], stack.outputs["processedBucket"]):
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()), (bucket, block)
    rules = s3.get_bucket_cors(Bucket=stack.outputs["uploadBucket"])["CORSRules"]
    assert rules[0]["AllowedMethods"] == ["POST"]
    assert stack.site_url in rules[0]["AllowedOrigins"] and "*" not in rules[0]["AllowedOrigins"]


def test_pending_records_expire_through_dynamodb_ttl(stack):
    ttl = client(stack, "dynamodb").describe_time_to_live(TableName=stack.outputs["table"])["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING") and ttl["AttributeName"] == "expiresAt"


def test_stage_is_throttled(stack):
    stage = client(stack, "apigateway").get_stage(restApiId=stack.outputs["apiId"], stageName="v1")
    throttle = stage["methodSettings"]["*/*"]
    assert throttle["throttlingRateLimit"] == 50.0 and throttle["throttlingBurstLimit"] == 100


def test_deployed_role_policies_are_the_least_privilege_ones(stack):
    iam = client(stack, "iam")
    pool_arn = client(stack, "cognito-idp").describe_user_pool(UserPoolId=stack.outputs["userPoolId"])["UserPool"][
        "Arn"
    ]
    expected = function_policies(
        StackConfig(target="embedded", region="us-east-1", endpoint_url=stack.endpoint), "000000000000", pool_arn
    )
    for role in ("api", "processor", "presignup", "events"):
        name = f"imagepipe-{role}-role"
        document = iam.get_role_policy(RoleName=name, PolicyName=f"{name}-policy")["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        assert document == expected[role]


def test_upload_bucket_notifies_the_processor(stack):
    config = stack.s3().get_bucket_notification_configuration(Bucket=stack.outputs["uploadBucket"])
    [target] = config["LambdaFunctionConfigurations"]
    assert target["LambdaFunctionArn"].endswith(":function:imagepipe-processor")
    assert target["Events"] == ["s3:ObjectCreated:*"]
