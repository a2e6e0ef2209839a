"""The REST API: every path to the API function (Lambda proxy) behind the Cognito authorizer."""

from __future__ import annotations

from collections.abc import Callable

from bootstrap.deploy.config import STAGE, StackConfig
from bootstrap.deploy.executor import Aws
from bootstrap.deploy.functions import ensure_invoke_permission

# API Gateway's own refusals (a bad token, throttling) in the API's error shape, readable by the
# page: CORS headers echo the caller's origin (these bodies hold nothing but the refusal).
GATEWAY_ERRORS = {
    "UNAUTHORIZED": "unauthorized",
    "ACCESS_DENIED": "forbidden",
    "THROTTLED": "throttled",
    "DEFAULT_4XX": "bad_request",
    "DEFAULT_5XX": "gateway_error",
}


def ensure_authorizer(aws: Aws, cfg: StackConfig, api_id: str, pool_arn: str) -> str:
    """Every route needs a valid ID token of the pool (Authorization header, raw or Bearer)."""
    existing = next(
        (
            a
            for a in aws.apigateway.get_authorizers(restApiId=api_id, limit=500)["items"]
            if a["name"] == cfg.authorizer
        ),
        None,
    )
    if existing is None:
        return aws.apigateway.create_authorizer(
            restApiId=api_id,
            name=cfg.authorizer,
            type="COGNITO_USER_POOLS",
            providerARNs=[pool_arn],
            identitySource="method.request.header.Authorization",
        )["id"]
    if existing.get("providerARNs") != [pool_arn]:
        aws.apigateway.update_authorizer(
            restApiId=api_id,
            authorizerId=existing["id"],
            patchOperations=[{"op": "replace", "path": "/providerARNs/0", "value": pool_arn}],
        )
    return existing["id"]


def ensure_method(aws: Aws, api_id: str, resource: dict, http_method: str, uri: str, authorizer_id: str | None) -> None:
    auth = (
        {"authorizationType": "COGNITO_USER_POOLS", "authorizerId": authorizer_id}
        if authorizer_id
        else {"authorizationType": "NONE"}
    )
    current = (resource.get("resourceMethods") or {}).get(http_method)
    if current is None:
        aws.apigateway.put_method(restApiId=api_id, resourceId=resource["id"], httpMethod=http_method, **auth)
    else:
        method = aws.apigateway.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=http_method)
        if method.get("authorizationType") != auth["authorizationType"] or method.get("authorizerId") != authorizer_id:
            aws.apigateway.update_method(
                restApiId=api_id,
                resourceId=resource["id"],
                httpMethod=http_method,
                patchOperations=[{"op": "replace", "path": f"/{k}", "value": v} for k, v in auth.items()],
            )
    aws.apigateway.put_integration(
        restApiId=api_id,
        resourceId=resource["id"],
        httpMethod=http_method,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=uri,
    )


def ensure_rest_api(aws: Aws, cfg: StackConfig, api_function_arn: str, pool_arn: str) -> str:
    """A REST API whose every path and method goes to the API function (Lambda proxy), behind the
    Cognito authorizer; only CORS preflights (OPTIONS) pass without a token."""
    api_id = next(
        (
            a["id"]
            for page in aws.apigateway.get_paginator("get_rest_apis").paginate()
            for a in page["items"]
            if a["name"] == cfg.api_name
        ),
        None,
    )
    if api_id is None:
        created = aws.apigateway.create_rest_api(
            name=cfg.api_name, description="imagepipe API", endpointConfiguration={"types": ["REGIONAL"]}
        )
        api_id, resources = created["id"], {"/": {"id": created["rootResourceId"]}}
    else:
        resources = {r["path"]: r for r in aws.apigateway.get_resources(restApiId=api_id, limit=500)["items"]}
    if "/{proxy+}" not in resources:
        created = aws.apigateway.create_resource(restApiId=api_id, parentId=resources["/"]["id"], pathPart="{proxy+}")
        resources["/{proxy+}"] = created
    authorizer_id = ensure_authorizer(aws, cfg, api_id, pool_arn)
    uri = f"arn:aws:apigateway:{cfg.region}:lambda:path/2015-03-31/functions/{api_function_arn}/invocations"
    for path in ("/", "/{proxy+}"):
        ensure_method(aws, api_id, resources[path], "ANY", uri, authorizer_id)
        ensure_method(aws, api_id, resources[path], "OPTIONS", uri, None)  # browsers send no token there
    for response_type, code in GATEWAY_ERRORS.items():
        aws.apigateway.put_gateway_response(
            restApiId=api_id,
            responseType=response_type,
            responseParameters={
                "gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin",
                "gatewayresponse.header.Vary": "'Origin'",
            },
            responseTemplates={
                "application/json": '{"error": {"code": "' + code + '", "message": $context.error.messageString}}'
            },
        )
    ensure_invoke_permission(
        aws,
        cfg.function("api"),
        "apigateway-invoke",
        "apigateway.amazonaws.com",
        f"arn:aws:execute-api:{cfg.region}:{aws.account}:{api_id}/*/*",
    )
    aws.apigateway.create_deployment(restApiId=api_id, stageName=STAGE, description="bootstrap")
    aws.apigateway.update_stage(
        restApiId=api_id,
        stageName=STAGE,
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(cfg.throttle_rate)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(cfg.throttle_burst)},
        ],
    )
    return api_id


def api_url(cfg: StackConfig, api_id: str) -> str:
    if cfg.endpoint_url:
        return f"{cfg.endpoint_url.rstrip('/')}/_aws/execute-api/{api_id}/{STAGE}"
    return f"https://{api_id}.execute-api.{cfg.region}.amazonaws.com/{STAGE}"


def remove_rest_api(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    for api in (a for page in aws.apigateway.get_paginator("get_rest_apis").paginate() for a in page["items"]):
        if api["name"] == cfg.api_name:
            log(f"deleting REST API {api['id']}")
            aws.apigateway.delete_rest_api(restApiId=api["id"])
