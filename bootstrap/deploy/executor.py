"""Who makes the deploy's calls: one Executor makes them; a DisplayOnlyExecutor prints them.

Every resource module writes plain boto3 (`aws.s3.create_bucket(...)`) against the clients of
an `Aws`. The executor decides what a call does, at the client: the real one sends it; the
display one answers each change (create, put, update, delete) with placeholders named after the
call (`<lambda.CreateFunction.FunctionArn>`) and records it, and answers each read (get, list,
describe, head) as an account where nothing exists yet would (`--dry-run` of deploy), or sends
it to the target (`--dry-run` of destroy, which can only plan from what is there). So the dry
run is the deploy by construction: the same code, the same calls in the same order, nothing
sent (chalice's Executor / DisplayOnlyExecutor, with boto3's own event hooks as the seam).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.model import OperationModel, Shape

from bootstrap.deploy.config import StackConfig, session_for

SERVICES = {  # attribute of Aws -> boto3 service name
    "s3": "s3",
    "dynamodb": "dynamodb",
    "iam": "iam",
    "lambda_": "lambda",
    "apigateway": "apigateway",
    "apigatewayv2": "apigatewayv2",
    "sts": "sts",
    "sqs": "sqs",
    "events": "events",
    "cognito": "cognito-idp",
    "cloudfront": "cloudfront",
    "sns": "sns",
    "cloudwatch": "cloudwatch",
    "logs": "logs",
    "sfn": "stepfunctions",
}
# Services deploy never calls on the localstack target: CloudFront (the site is on AWS only) and
# API Gateway v2 (the live status's WebSocket API: LocalStack's need Pro, docs/targets.md).
NOT_ON_LOCALSTACK = ("cloudfront", "apigatewayv2")
READS = ("Get", "List", "Describe", "Head")
PLACEHOLDER_ACCOUNT = "ACCOUNT"  # a valid bucket name part: the dry run names buckets with it
PLACEHOLDER_CODE = b"<the Lambda zip that `python -m bootstrap package` builds>"


@dataclass(frozen=True)
class Call:
    """One change the deploy makes: service, operation (boto3's method name), parameters."""

    service: str
    operation: str
    params: dict

    def show(self) -> str:
        args = ", ".join(f"{k}={_brief(v)}" for k, v in self.params.items())
        return f"{self.service}.{self.operation}({args})"


def _brief(value, limit: int = 160) -> str:
    """A parameter as the dry run prints it: JSON, bytes by their size, long texts cut."""
    text = json.dumps(value, default=lambda v: f"<{len(v)} bytes>" if isinstance(v, bytes) else str(v))
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} chars)"


def is_read(operation_name: str) -> bool:
    return operation_name.startswith(READS)


def call_of(model: OperationModel, params: dict) -> Call:
    """The change boto3 was asked for, as the plan shows it (boto3's method name)."""
    return Call(model.service_model.service_name, xform_name(model.name), params)


class Executor:
    """Makes the calls: clients as boto3 makes them, waits that wait."""

    def clients(self, cfg: StackConfig) -> dict:
        session = session_for(cfg)
        conf = Config(retries={"mode": "standard", "max_attempts": 8}, s3={"addressing_style": "path"})
        return {
            attr: session.client(name, endpoint_url=cfg.endpoint_url, config=conf) for attr, name in SERVICES.items()
        }

    def account(self, sts) -> str:
        return sts.get_caller_identity()["Account"]

    def wait(self, client, waiter: str, **params) -> None:
        client.get_waiter(waiter).wait(**params)

    def code(self, zip_bytes: bytes | None) -> bytes:
        if zip_bytes is None:
            raise ValueError("deploy needs the Lambda zip (python -m bootstrap package builds it)")
        return zip_bytes


@dataclass
class DisplayOnlyExecutor(Executor):
    """Sends nothing that changes anything: each change is recorded, shown and answered with
    placeholders. `reads`: "empty" answers reads as an account without the stack would (nothing
    is sent at all); "target" sends them to the target."""

    reads: str = "empty"
    show: Callable[[str], None] = print
    calls: list[Call] = field(default_factory=list)

    def clients(self, cfg: StackConfig) -> dict:
        if self.reads == "empty":  # no network, so any credentials do
            cfg = dataclasses.replace(cfg, credentials=("display", "display"))
        made = super().clients(cfg)
        for client in made.values():
            client.meta.events.register("provide-client-params.*.*", _keep_params)
            client.meta.events.register("before-call.*.*", self._answer)
        return made

    def account(self, sts) -> str:
        return PLACEHOLDER_ACCOUNT if self.reads == "empty" else super().account(sts)

    def wait(self, client, waiter: str, **params) -> None:
        self.show(f"  wait until {client.meta.service_model.service_name} {waiter}: {_brief(params)}")

    def code(self, zip_bytes: bytes | None) -> bytes:
        return zip_bytes if zip_bytes is not None else PLACEHOLDER_CODE

    def _answer(self, model: OperationModel, context: dict, **_) -> tuple[AWSResponse, dict] | None:
        service = model.service_model.service_name
        if is_read(model.name):
            return None if self.reads == "target" else empty_account_answer(service, model)
        call = call_of(model, context.get("imagepipe_params", {}))
        self.calls.append(call)
        self.show(f"  {call.show()}")
        return AWSResponse(None, 200, {}, None), placeholder(f"{service}.{model.name}", model.output_shape)


def _keep_params(params: dict, context: dict, model: OperationModel, **_) -> None:
    context["imagepipe_params"] = dict(params)


# Answers of an account where nothing of the stack exists: a lookup is "not found", a listing
# is empty. A few reads describe the account itself, not the stack.
NOT_FOUND = {
    "s3": "404",
    "dynamodb": "ResourceNotFoundException",
    "iam": "NoSuchEntity",
    "lambda": "ResourceNotFoundException",
    "cognito-idp": "ResourceNotFoundException",
    "apigateway": "NotFoundException",
    "apigatewayv2": "NotFoundException",
    "sqs": "AWS.SimpleQueueService.NonExistentQueue",
    "events": "ResourceNotFoundException",
    "cloudfront": "NoSuchResource",
    "sns": "NotFound",
    "cloudwatch": "ResourceNotFound",
    "logs": "ResourceNotFoundException",
    "stepfunctions": "StateMachineDoesNotExist",
}
ACCOUNT_ANSWERS = {
    ("lambda", "GetAccountSettings"): {"AccountLimit": {}},  # nothing said about its quota
    ("lambda", "GetFunctionConcurrency"): {},  # a new function has no reservation
}


def empty_account_answer(service: str, model: OperationModel) -> tuple[AWSResponse, dict]:
    if (service, model.name) in ACCOUNT_ANSWERS:
        return AWSResponse(None, 200, {}, None), ACCOUNT_ANSWERS[(service, model.name)]
    listing = model.name.startswith("List") or any(
        m.type_name == "list" for m in (model.output_shape.members.values() if model.output_shape else ())
    )
    if listing:
        return AWSResponse(None, 200, {}, None), _empty(model.output_shape)
    code = NOT_FOUND[service]
    error = {"Error": {"Code": code, "Message": "(dry run: nothing exists yet)"}, "ResponseMetadata": {}}
    return AWSResponse(None, 404, {}, None), error


def _empty(shape: Shape | None) -> dict:
    """A listing with nothing in it: lists and maps empty, no next-page token."""
    out: dict = {}
    for name, member in (shape.members if shape is not None else {}).items():
        if member.type_name == "list":
            out[name] = []
        elif member.type_name == "map":
            out[name] = {}
        elif member.type_name == "structure":
            out[name] = _empty(member)
    return out


def placeholder(path: str, shape: Shape | None, depth: int = 0):
    """A change's answer: each text a placeholder named after where it comes from."""
    if shape is None or depth > 4:
        return {}
    kind = shape.type_name
    if kind == "structure":
        return {name: placeholder(f"{path}.{name}", member, depth + 1) for name, member in shape.members.items()}
    return {
        "list": [],
        "map": {},
        "string": f"<{path}>",
        "integer": 0,
        "long": 0,
        "float": 0.0,
        "double": 0.0,
        "boolean": False,
        "blob": b"",
        "timestamp": datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC),
    }.get(kind)


class Aws:
    """The deploy's clients, all pointed at the target, each call made as the executor says."""

    def __init__(self, cfg: StackConfig, executor: Executor | None = None):
        self.executor = executor or Executor()
        for attr, client in self.executor.clients(cfg).items():
            setattr(self, attr, client)
        self.account = self.executor.account(self.sts)

    def wait(self, client, waiter: str, **params) -> None:
        self.executor.wait(client, waiter, **params)


def when_role_is_ready(
    make: Callable[[], str], refused: Callable[[Exception], bool], wait: Callable[[float], None], tries: int = 8
) -> str:
    """`make()` (a create that names a role IAM has just made): a new role takes seconds before a
    service may assume it (IAM is eventually consistent), so exactly that refusal (`refused`) is
    retried, with growing waits (1 + 2 + ... + 7 s, 28 s in all with 8 tries), instead of sleeping a
    fixed time on every new role."""
    for attempt in range(1, tries + 1):
        try:
            return make()
        except Exception as exc:
            if not refused(exc) or attempt == tries:
                raise
            wait(attempt)
    raise AssertionError("unreachable")
