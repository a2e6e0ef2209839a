"""The one place AWS clients are built. Handlers receive them; tests pass their own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from handlers.config import Settings


@dataclass(frozen=True)
class Clients:
    s3: Any
    dynamodb: Any
    # Signs the URLs handed to browsers: same credentials, the endpoint browsers can reach.
    s3_public: Any
    lambda_: Any = None  # the processor's sweep invokes the processor; the API never needs it
    cognito: Any = None  # the API asks the user pool for a person's groups; the processor never does
    cloudwatch: Any = None  # the API reads the alarms and metrics of its health report
    events: Any = None  # the events function sends image events to the stack's bus
    connections: Any = None  # the live function posts to the WebSocket API's connections (apigatewaymanagementapi)


def make_clients(
    settings: Settings,
    session: boto3.session.Session | None = None,
    with_lambda: bool = False,
    with_cognito: bool = False,
    with_cloudwatch: bool = False,
    with_events: bool = False,
    with_connections: bool = False,
) -> Clients:
    session = session or boto3.session.Session(region_name=settings.region)
    s3_config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        signature_version="s3v4",
        # Emulators answer on one host name; AWS wants virtual-hosted style.
        s3={"addressing_style": "path" if settings.endpoint_url else "virtual"},
    )
    common = Config(retries={"mode": "standard", "max_attempts": 5})
    s3 = session.client("s3", endpoint_url=settings.endpoint_url, config=s3_config)
    public = settings.public_s3_endpoint
    s3_public = session.client("s3", endpoint_url=public, config=s3_config) if public else s3
    dynamodb = session.client("dynamodb", endpoint_url=settings.endpoint_url, config=common)
    lambda_ = session.client("lambda", endpoint_url=settings.endpoint_url, config=common) if with_lambda else None
    cognito = session.client("cognito-idp", endpoint_url=settings.endpoint_url, config=common) if with_cognito else None
    cloudwatch = (
        session.client("cloudwatch", endpoint_url=settings.endpoint_url, config=common) if with_cloudwatch else None
    )
    events = session.client("events", endpoint_url=settings.endpoint_url, config=common) if with_events else None
    connections = (
        session.client("apigatewaymanagementapi", endpoint_url=settings.live_callback_url, config=common)
        if with_connections
        else None
    )
    return Clients(
        s3=s3,
        dynamodb=dynamodb,
        s3_public=s3_public,
        lambda_=lambda_,
        cognito=cognito,
        cloudwatch=cloudwatch,
        events=events,
        connections=connections,
    )
