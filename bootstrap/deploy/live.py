"""Live status (docs/events.md#live-status): a WebSocket API whose `$connect` (behind a REQUEST
authorizer reading the `token` query parameter), `$disconnect` and `$default` routes go to the
live function, its stage, the connections table, and a rule on the stack's bus that hands the
live function each image event, which it posts to the owner's open connections.

Made on targets with WebSocket APIs only (StackConfig.live_status): the page polls elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from bootstrap.deploy.config import STAGE, StackConfig
from bootstrap.deploy.executor import Aws
from bootstrap.deploy.functions import ensure_invoke_permission
from bootstrap.deploy.storage import delete_table_named, ensure_keyed_table
from handlers.image_events import DETAIL_TYPES, SOURCE
from handlers.schema import CONNECTIONS_KEY, TTL_ATTRIBUTE

ROUTES = ("$connect", "$disconnect", "$default")
# The handshake's token: the page cannot set headers on a WebSocket. Not cached (TTL 0): each
# handshake is checked, so an expired token or a removed admin opens nothing.
IDENTITY_SOURCE = ["route.request.querystring.token"]
# The page opens one socket per tab and sends nothing on it: API Gateway's default limits are
# far above what this needs; these bound what a stolen token could make it do.
THROTTLE = {"ThrottlingRateLimit": 20.0, "ThrottlingBurstLimit": 40}


def events_url(cfg: StackConfig, api_id: str) -> str:
    """Where the page opens its WebSocket (config.json's eventsUrl)."""
    if cfg.endpoint_url:
        base = cfg.endpoint_url.rstrip("/").replace("https://", "wss://").replace("http://", "ws://")
        return f"{base}/_aws/execute-api/{api_id}/{STAGE}"
    return f"wss://{api_id}.execute-api.{cfg.region}.amazonaws.com/{STAGE}"


def callback_url(cfg: StackConfig, api_id: str) -> str:
    """Where the live function posts to the connections (the @connections API)."""
    if cfg.endpoint_url:
        return f"{cfg.endpoint_url.rstrip('/')}/_aws/execute-api/{api_id}/{STAGE}"
    return f"https://{api_id}.execute-api.{cfg.region}.amazonaws.com/{STAGE}"


def connections_arn(cfg: StackConfig, account: str, api_id: str) -> str:
    """What the live function may post to and delete: its API's connections on its stage."""
    return f"arn:aws:execute-api:{cfg.region}:{account}:{api_id}/{STAGE}/POST/@connections/*"


def ensure_connections_table(aws: Aws, cfg: StackConfig) -> None:
    """One item per open connection, under its owner (handlers/schema.py), expiring by TTL."""
    if not ensure_keyed_table(aws, cfg.connections_table, CONNECTIONS_KEY):
        return
    aws.dynamodb.update_time_to_live(
        TableName=cfg.connections_table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


def find_websocket_api(aws: Aws, cfg: StackConfig) -> str | None:
    """The API's id, found by its name among every page of the account's HTTP and WebSocket APIs."""
    params: dict = {}
    while True:
        page = aws.apigatewayv2.get_apis(**params)
        found = [a["ApiId"] for a in page.get("Items", []) if a["Name"] == cfg.websocket_api]
        if found or not page.get("NextToken"):
            return found[0] if found else None
        params["NextToken"] = page["NextToken"]


def ensure_websocket_api(aws: Aws, cfg: StackConfig) -> str:
    """The API itself (its routes come once the live function exists); its id."""
    return (
        find_websocket_api(aws, cfg)
        or aws.apigatewayv2.create_api(
            Name=cfg.websocket_api,
            ProtocolType="WEBSOCKET",
            RouteSelectionExpression="$request.body.action",
            Description="imagepipe: live status of a person's images",
        )["ApiId"]
    )


def ensure_live_routes(aws: Aws, cfg: StackConfig, api_id: str, function_arn: str) -> None:
    """The integration with the live function, the $connect authorizer (the same function), the
    three routes, the stage (deployed anew each time) and API Gateway's permission to invoke."""
    uri = f"arn:aws:apigateway:{cfg.region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    integrations = aws.apigatewayv2.get_integrations(ApiId=api_id).get("Items", [])
    integration = next((i["IntegrationId"] for i in integrations if i.get("IntegrationUri") == uri), None)
    if integration is None:
        integration = aws.apigatewayv2.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri
        )["IntegrationId"]
    routes = {r["RouteKey"]: r for r in aws.apigatewayv2.get_routes(ApiId=api_id).get("Items", [])}
    authorizer = (routes.get("$connect") or {}).get("AuthorizerId")
    if authorizer is None:
        authorizer = aws.apigatewayv2.create_authorizer(
            ApiId=api_id,
            Name=cfg.live_authorizer,
            AuthorizerType="REQUEST",
            AuthorizerUri=uri,
            IdentitySource=IDENTITY_SOURCE,
            AuthorizerResultTtlInSeconds=0,
        )["AuthorizerId"]
    for key in ROUTES:
        auth = {"AuthorizationType": "CUSTOM", "AuthorizerId": authorizer} if key == "$connect" else {}
        if key not in routes:
            aws.apigatewayv2.create_route(ApiId=api_id, RouteKey=key, Target=f"integrations/{integration}", **auth)
    stages = {s["StageName"] for s in aws.apigatewayv2.get_stages(ApiId=api_id).get("Items", [])}
    if STAGE not in stages:
        aws.apigatewayv2.create_stage(ApiId=api_id, StageName=STAGE, DefaultRouteSettings=THROTTLE)
    aws.apigatewayv2.create_deployment(ApiId=api_id, StageName=STAGE, Description="bootstrap")
    ensure_invoke_permission(
        aws,
        cfg.function("live"),
        "apigateway-live",
        "apigateway.amazonaws.com",
        f"arn:aws:execute-api:{cfg.region}:{aws.account}:{api_id}/*",
    )


def ensure_live_rule(aws: Aws, cfg: StackConfig, function_arn: str) -> None:
    """Every image event on the stack's bus goes to the live function."""
    pattern = {"source": [SOURCE], "detail-type": list(DETAIL_TYPES)}
    rule_arn = aws.events.put_rule(
        Name=cfg.live_rule,
        EventBusName=cfg.event_bus,
        EventPattern=json.dumps(pattern),
        Description="imagepipe: image events to the open pages (live status)",
    )["RuleArn"]
    ensure_invoke_permission(aws, cfg.function("live"), "events-live", "events.amazonaws.com", rule_arn)
    aws.events.put_targets(
        Rule=cfg.live_rule, EventBusName=cfg.event_bus, Targets=[{"Id": "live", "Arn": function_arn}]
    )


# --- destroy ------------------------------------------------------------------------------------


def remove_live(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    """The rule (its target first), the WebSocket API (routes, authorizer, stage with it), the
    connections table. The live function and its role go with the others."""
    try:
        aws.events.describe_rule(Name=cfg.live_rule, EventBusName=cfg.event_bus)
    except aws.events.exceptions.ResourceNotFoundException:
        pass
    else:
        targets = aws.events.list_targets_by_rule(Rule=cfg.live_rule, EventBusName=cfg.event_bus).get("Targets", [])
        if targets:
            ids = [t["Id"] for t in targets]
            aws.events.remove_targets(Rule=cfg.live_rule, EventBusName=cfg.event_bus, Ids=ids)
        aws.events.delete_rule(Name=cfg.live_rule, EventBusName=cfg.event_bus)
        log(f"deleted rule {cfg.live_rule}")
    api_id = find_websocket_api(aws, cfg)
    if api_id:
        aws.apigatewayv2.delete_api(ApiId=api_id)
        log(f"deleted WebSocket API {api_id}")
    delete_table_named(aws, cfg.connections_table, log)
