"""bootstrap/deploy/live.py, read from deploy's own planned calls and policies: the WebSocket API's
handshake goes through the token authorizer (the query's `token`, never cached), its three routes
to the live function, the bus's image events to that function, which may post only to its own
API's connections and touch only its own table; destroy removes what this step made."""

from __future__ import annotations

import dataclasses
import json

from bootstrap.deploy.config import StackConfig, function_roles
from bootstrap.deploy.iam import function_policies
from bootstrap.deploy.live import callback_url, events_url
from bootstrap.deploy.plan import plan
from handlers.image_events import DETAIL_TYPES, SOURCE

CFG = StackConfig(target="aws", region="eu-west-1", endpoint_url=None)


def calls_of(cfg: StackConfig = CFG):
    return plan(cfg, show=lambda _: None).calls


def test_the_handshake_is_checked_by_the_token_authorizer_and_every_route_goes_to_the_live_function():
    calls = calls_of()
    (function,) = [
        c.params for c in calls if c.operation == "create_function" and c.params["FunctionName"] == "imagepipe-live"
    ]
    assert function["Handler"] == "handlers.live_lambda.handler"
    env = function["Environment"]["Variables"]
    assert env["CONNECTIONS_TABLE"] == CFG.connections_table
    assert env["LIVE_CALLBACK_URL"] == "https://<apigatewayv2.CreateApi.ApiId>.execute-api.eu-west-1.amazonaws.com/v1"
    assert env["USER_POOL_ID"] == "<cognito-idp.CreateUserPool.UserPool.Id>"
    (api,) = [c.params for c in calls if c.operation == "create_api"]
    assert api["ProtocolType"] == "WEBSOCKET"
    (authorizer,) = [c.params for c in calls if (c.service, c.operation) == ("apigatewayv2", "create_authorizer")]
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0  # every handshake checked: an expired token opens nothing
    assert "<lambda.CreateFunction.FunctionArn>" in authorizer["AuthorizerUri"]
    routes = {c.params["RouteKey"]: c.params for c in calls if c.operation == "create_route"}
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert routes["$connect"]["AuthorizerId"] == "<apigatewayv2.CreateAuthorizer.AuthorizerId>"
    assert all("AuthorizationType" not in r for k, r in routes.items() if k != "$connect")
    (integration,) = [c.params for c in calls if c.operation == "create_integration"]
    assert integration["IntegrationUri"] == authorizer["AuthorizerUri"]  # one function
    operations = [(c.service, c.operation) for c in calls]
    assert operations.index(("apigatewayv2", "create_stage")) < operations.index(("apigatewayv2", "create_deployment"))


def test_the_bus_s_image_events_go_to_the_live_function():
    calls = calls_of()
    (rule,) = [c.params for c in calls if c.operation == "put_rule" and c.params["Name"] == CFG.live_rule]
    assert rule["EventBusName"] == CFG.event_bus
    assert json.loads(rule["EventPattern"]) == {"source": [SOURCE], "detail-type": list(DETAIL_TYPES)}
    (targets,) = [c.params for c in calls if c.operation == "put_targets" and c.params["Rule"] == CFG.live_rule]
    assert targets["Targets"] == [{"Id": "live", "Arn": "<lambda.CreateFunction.FunctionArn>"}]
    permissions = {c.params["StatementId"]: c.params for c in calls if c.operation == "add_permission"}
    assert permissions["events-live"]["SourceArn"] == "<events.PutRule.RuleArn>"
    assert permissions["apigateway-live"]["Principal"] == "apigateway.amazonaws.com"


def test_the_live_function_posts_to_its_own_api_s_connections_and_touches_its_own_table_only():
    pool = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Abc"
    policy = function_policies(CFG, "123456789012", pool, "abcdef1234")["live"]
    granted = {a: s["Resource"] for s in policy["Statement"] for a in s["Action"] if not a.startswith("logs:")}
    table = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{CFG.connections_table}"
    assert granted == {
        "dynamodb:PutItem": [table],
        "dynamodb:DeleteItem": [table],
        "dynamodb:Query": [table],
        "cognito-idp:AdminListGroupsForUser": [pool],  # admins, asked of the pool
        "execute-api:ManageConnections": [
            "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/v1/POST/@connections/*"
        ],
    }
    # Before the API exists (the roles step), it may post nowhere.
    early = function_policies(CFG, "123456789012")["live"]
    assert not any("execute-api:ManageConnections" in s["Action"] for s in early["Statement"])


def test_the_page_is_told_where_to_listen_on_each_target():
    assert events_url(CFG, "abc123") == "wss://abc123.execute-api.eu-west-1.amazonaws.com/v1"
    local = StackConfig(target="embedded", region="us-east-1", endpoint_url="http://127.0.0.1:4566")
    assert events_url(local, "abc123") == "ws://127.0.0.1:4566/_aws/execute-api/abc123/v1"
    assert callback_url(local, "abc123") == "http://127.0.0.1:4566/_aws/execute-api/abc123/v1"
    with_site = dataclasses.replace(CFG, site_bucket_enabled=True)
    (config,) = [
        c.params for c in calls_of(with_site) if c.operation == "put_object" and c.params["Key"] == "config.json"
    ]
    assert (
        json.loads(config["Body"])["eventsUrl"]
        == "wss://<apigatewayv2.CreateApi.ApiId>.execute-api.eu-west-1.amazonaws.com/v1"
    )


def test_without_websocket_apis_the_page_polls_and_nothing_of_the_live_status_is_made():
    """LocalStack's WebSocket APIs need Pro: there the step does not run, config.json says null."""
    cfg = StackConfig(target="localstack", region="us-east-1", endpoint_url="http://127.0.0.1:4566", live_status=False)
    calls = calls_of(cfg)
    assert not any(c.service == "apigatewayv2" for c in calls)
    assert "live" not in function_roles(cfg)
    assert not any(c.operation == "create_table" and c.params["TableName"] == cfg.connections_table for c in calls)


def test_the_api_is_found_again_on_any_page_of_the_account_s_apis():
    """A second deploy finds its API by name however many APIs the account has: never a second one."""
    from types import SimpleNamespace

    import boto3
    from botocore.stub import Stubber

    from bootstrap.deploy.live import find_websocket_api

    client = boto3.client("apigatewayv2", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    api = {"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"}
    others = [api | {"ApiId": f"other{n}", "Name": f"someone-else-{n}"} for n in range(2)]
    stubber.add_response("get_apis", {"Items": others, "NextToken": "page2"}, {})
    stubber.add_response(
        "get_apis", {"Items": [api | {"ApiId": "mine", "Name": CFG.websocket_api}]}, {"NextToken": "page2"}
    )
    stubber.add_response("get_apis", {"Items": others}, {})
    with stubber:
        assert find_websocket_api(SimpleNamespace(apigatewayv2=client), CFG) == "mine"
        assert find_websocket_api(SimpleNamespace(apigatewayv2=client), CFG) is None
