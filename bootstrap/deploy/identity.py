"""Identity: the Cognito user pool people sign in to, the page's app client, the admins group."""

from __future__ import annotations

from collections.abc import Callable

from bootstrap.deploy.config import StackConfig
from bootstrap.deploy.executor import Aws
from bootstrap.deploy.functions import ensure_invoke_permission
from handlers.identity import ADMINS_GROUP, ID_TOKEN_MINUTES, WRITABLE_ATTRIBUTES

PASSWORD_POLICY = {  # length, not composition rules (NIST SP 800-63B); Cognito wants each flag said
    "MinimumLength": 10,
    "RequireUppercase": False,
    "RequireLowercase": False,
    "RequireNumbers": False,
    "RequireSymbols": False,
    "TemporaryPasswordValidityDays": 7,
}


def user_pool_id(aws: Aws, cfg: StackConfig) -> str | None:
    """The stack's user pool, found by its name (pool ids are made by Cognito)."""
    pages = aws.cognito.get_paginator("list_user_pools").paginate(MaxResults=60)
    return next((p["Id"] for page in pages for p in page["UserPools"] if p["Name"] == cfg.user_pool), None)


def ensure_user_pool(aws: Aws, cfg: StackConfig, presignup_arn: str | None) -> tuple[str, str]:
    """Email is the username; on AWS Cognito verifies it with a code, locally PreSignUp confirms."""
    settings = dict(
        Policies={"PasswordPolicy": PASSWORD_POLICY},
        AutoVerifiedAttributes=["email"],
        LambdaConfig={"PreSignUp": presignup_arn} if presignup_arn else {},
        AccountRecoverySetting={"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
        # A changed email is used (in tokens, as an image's owner) only once verified.
        UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
    )
    pool_id = user_pool_id(aws, cfg)
    if pool_id is None:
        pool = aws.cognito.create_user_pool(
            PoolName=cfg.user_pool,
            UsernameAttributes=["email"],
            UsernameConfiguration={"CaseSensitive": False},
            **settings,
        )["UserPool"]
        pool_id, arn = pool["Id"], pool["Arn"]
    else:
        aws.cognito.update_user_pool(UserPoolId=pool_id, **settings)
        arn = aws.cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Arn"]
    if presignup_arn:
        ensure_invoke_permission(aws, cfg.function("presignup"), "cognito-presignup", "cognito-idp.amazonaws.com", arn)
    return pool_id, arn


def ensure_app_client(aws: Aws, cfg: StackConfig, pool_id: str) -> str:
    """The page's client: public (no secret), password and refresh flows (SRP too, for AWS's own
    libraries), revocable refresh tokens, one-hour ID tokens."""
    settings = dict(
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"],
        EnableTokenRevocation=True,
        PreventUserExistenceErrors="ENABLED",
        IdTokenValidity=ID_TOKEN_MINUTES,  # the API refuses a token that claims to live longer
        AccessTokenValidity=60,
        RefreshTokenValidity=30,
        TokenValidityUnits={"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "days"},
        # What the page may write about a person: their email, nothing else (never sub or a group).
        WriteAttributes=list(WRITABLE_ATTRIBUTES),
    )
    client_id = next(
        (
            c["ClientId"]
            for page in aws.cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60)
            for c in page["UserPoolClients"]
            if c["ClientName"] == cfg.app_client
        ),
        None,
    )
    if client_id is None:
        return aws.cognito.create_user_pool_client(
            UserPoolId=pool_id, ClientName=cfg.app_client, GenerateSecret=False, **settings
        )["UserPoolClient"]["ClientId"]
    aws.cognito.update_user_pool_client(UserPoolId=pool_id, ClientId=client_id, ClientName=cfg.app_client, **settings)
    return client_id


def ensure_admins_group(aws: Aws, pool_id: str) -> None:
    try:
        aws.cognito.create_group(
            UserPoolId=pool_id, GroupName=ADMINS_GROUP, Description="imagepipe moderators: see and delete every image"
        )
    except aws.cognito.exceptions.GroupExistsException:
        pass


def find_user_pool(aws: Aws, cfg: StackConfig) -> tuple[str, str] | None:
    """(pool id, app client id) of the deployed stack, or None."""
    pool_id = user_pool_id(aws, cfg)
    if pool_id is None:
        return None
    clients = aws.cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    return pool_id, next((c["ClientId"] for c in clients if c["ClientName"] == cfg.app_client), "")


def create_user(aws: Aws, pool_id: str, email: str, password: str, admin: bool = False) -> None:
    """A confirmed user with this password (set again if the user exists), for scripts and demos."""
    try:
        aws.cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=email,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        )
    except aws.cognito.exceptions.UsernameExistsException:
        pass
    aws.cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    if admin:
        aws.cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=ADMINS_GROUP)


def remove_user_pool(aws: Aws, cfg: StackConfig, log: Callable[[str], None]) -> None:
    found = find_user_pool(aws, cfg)
    if found:
        aws.cognito.delete_user_pool(UserPoolId=found[0])  # its clients, groups and users go with it
        log(f"deleted user pool {cfg.user_pool}")
