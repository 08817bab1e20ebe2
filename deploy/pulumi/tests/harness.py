"""Runs the Pulumi program (router_stack.build) under Pulumi's mocks, offline, and records every resource it registers:
its type, name, inputs (secrets unwrapped), which inputs were secret, and its additional secret outputs.

No Pulumi CLI, no AWS provider plugin, no credentials: the mocks answer the invokes (getRegion, getCallerIdentity,
getPartition) and give every resource the outputs the program reads (ARNs, names, URLs).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM_DIR = os.path.dirname(HERE)  # deploy/pulumi
DEPLOY_DIR = os.path.dirname(PROGRAM_DIR)  # deploy
sys.path.insert(0, PROGRAM_DIR)
sys.path.insert(0, os.path.join(PROGRAM_DIR, "policy"))

import router_stack  # noqa: E402

HOME_REGION = "eu-west-1"
ACCOUNT = "123456789012"
PARTITION = "aws"

# Plausible secrets, to prove they never leave Secrets Manager (split so no scanner mistakes this file for a leak).
WEBHOOK_URL = "https://hooks.slack.com/" + "services/T0000TEST/B0000TEST/abcdefghijklmnopqrstuvwx"
BOT_TOKEN = "xoxb-" + "1111111111-2222222222-abcdefghijklmnopqrstuvwx"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
SECRET_VALUES = (WEBHOOK_URL, BOT_TOKEN, SIGNING_SECRET)


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def unwrap(value: Any) -> Any:
    """The value with every secret wrapper removed."""
    if _is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def contains_secret(value: Any) -> bool:
    if _is_secret(value):
        return True
    if isinstance(value, dict):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_secret(v) for v in value)
    return False


@dataclass
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]
    secret_inputs: set[str] = field(default_factory=set)
    additional_secret_outputs: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.inputs.get("region") or HOME_REGION

    def policy(self, key: str = "policy") -> dict[str, Any]:
        return json.loads(self.inputs[key])


class RouterMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registrations: list[Registration] = []
        self.calls: list[str] = []

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.calls.append(args.token)
        if args.token == "aws:index/getRegion:getRegion":
            return {"id": HOME_REGION, "name": HOME_REGION, "region": HOME_REGION,
                    "description": "Europe (Ireland)", "endpoint": f"ec2.{HOME_REGION}.amazonaws.com"}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"id": ACCOUNT, "accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/test",
                    "userId": "AIDATESTTESTTESTTEST"}
        if args.token == "aws:index/getPartition:getPartition":
            return {"id": PARTITION, "partition": PARTITION, "dnsSuffix": "amazonaws.com",
                    "reverseDnsPrefix": "com.amazonaws"}
        raise NotImplementedError(f"the program invoked {args.token}, which the mocks do not answer")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = unwrap(args.inputs)
        region = inputs.get("region") or HOME_REGION
        state = dict(inputs)
        name = inputs.get("name") or args.name
        typ = args.typ
        rid = f"{args.name}-id"
        if typ == "aws:sqs/queue:Queue":
            state["arn"] = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
            state["url"] = f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{name}"
            rid = state["url"]
        elif typ == "aws:dynamodb/table:Table":
            state["name"] = name
            state["arn"] = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"
            rid = name
        elif typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}"
            rid = name
        elif typ == "aws:iam/role:Role":
            state["name"] = name
            state["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{name}"
            rid = name
        elif typ == "aws:lambda/function:Function":
            state["arn"] = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
            state["invokeArn"] = f"arn:aws:apigateway:{region}:lambda:path/functions/{state['arn']}/invocations"
            rid = name
        elif typ == "aws:cloudwatch/eventRule:EventRule":
            state["arn"] = f"arn:aws:events:{region}:{ACCOUNT}:rule/{name}"
            rid = name
        elif typ == "aws:secretsmanager/secret:Secret":
            state["name"] = inputs.get("namePrefix", "secret-") + "20240101000000000000000001"
            state["arn"] = f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{state['name']}-AbCdEf"
            rid = state["arn"]
        elif typ == "aws:secretsmanager/secretVersion:SecretVersion":
            state["arn"] = inputs.get("secretId")
            state["versionId"] = "00000000-0000-0000-0000-000000000001"
        elif typ == "aws:lambda/functionUrl:FunctionUrl":
            state["functionUrl"] = f"https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.{region}.on.aws/"
            state["urlId"] = "abcdefghijklmnopqrstuvwxyz012345"
        elif typ == "aws:guardduty/detector:Detector":
            rid = "0123456789abcdef0123456789abcdef"
            state["accountId"] = ACCOUNT
        for reg in reversed(self.registrations):
            if reg.type == typ and reg.name == args.name:
                reg.state = state
                break
        return rid, state


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Records what only the request shows: which inputs were secret, and additionalSecretOutputs."""

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack":
            pulumi_mocks._ensure_event_loop()
            raw = rpc.deserialize_properties(request.object)
            self.mocks.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    inputs=unwrap(raw),
                    secret_inputs={k for k, v in raw.items() if contains_secret(v)},
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                )
            )
        return super().RegisterResource(request)


@dataclass
class Run:
    deployment: router_stack.Deployment
    registrations: list[Registration]
    calls: list[str]
    outputs: dict[str, tuple[Any, bool]]  # stack output -> (value, is secret)

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == typ]

    def one(self, typ: str, name: Optional[str] = None) -> Registration:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def role_policies(self, role_name: str) -> list[Registration]:
        return [r for r in self.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == role_name]


def settings(**overrides: Any) -> router_stack.Settings:
    """Settings as `pulumi config set --secret` gives them: secret values are secret Outputs."""
    values = {"slack_webhook_url": pulumi.Output.secret(WEBHOOK_URL), "name_prefix": "gdr-test"}
    values.update(overrides)
    return router_stack.Settings(**values)


def all_secrets(**overrides: Any) -> router_stack.Settings:
    return settings(
        slack_bot_token=pulumi.Output.secret(BOT_TOKEN),
        slack_signing_secret=pulumi.Output.secret(SIGNING_SECRET),
        **overrides,
    )


def run(s: router_stack.Settings) -> Run:
    """Runs build(s) under fresh mocks until every resource is registered; returns what was registered."""
    return run_program(lambda: router_stack.build(s))


def run_program(program_fn) -> Run:
    """Runs program_fn (which returns the Deployment) under fresh mocks until every resource is registered."""
    mocks = RouterMocks()
    pulumi.runtime.set_mocks(mocks, project="guardduty-router", stack="test", preview=False,
                             monitor=RecordingMonitor(mocks))
    holder: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        deployment = program_fn()
        holder["deployment"] = deployment
        names = list(deployment.outputs)

        def resolved(values):
            holder["values"] = dict(zip(names, values))

        secrets = [pulumi.Output.from_input(deployment.outputs[n]).is_secret() for n in names]
        holder["secret_futures"] = dict(zip(names, secrets))
        return pulumi.Output.all(*[deployment.outputs[n] for n in names]).apply(resolved)

    program()
    outputs = {}
    for name, value in holder["values"].items():
        outputs[name] = (value, _done(holder["secret_futures"][name]))
    return Run(holder["deployment"], mocks.registrations, mocks.calls, outputs)


def _done(future) -> bool:
    from pulumi.runtime.sync_await import _sync_await

    return bool(_sync_await(future))


def resolve(output: Any) -> tuple[Any, bool]:
    """(value, is secret) of an Output after a run."""
    from pulumi.runtime.sync_await import _sync_await

    out = pulumi.Output.from_input(output)
    return _sync_await(out.future()), bool(_sync_await(out.is_secret()))
