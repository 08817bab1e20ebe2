"""__main__.py, the program `pulumi up` runs: the stack's configuration (as `pulumi config set [--secret]` stores
it) read into Settings, the resources built, the outputs exported."""

from __future__ import annotations

import json
import os
import runpy

import pulumi
import pytest

import harness
import router_stack
from harness import ACCOUNT, BOT_TOKEN, PROGRAM_DIR, SIGNING_SECRET, WEBHOOK_URL


@pytest.fixture
def config():
    def set_config(values: dict, secret: tuple = ()):
        pulumi.runtime.set_all_config({f"guardduty-router:{k}" if ":" not in k else k: v for k, v in values.items()},
                                      [f"guardduty-router:{k}" for k in secret])
    yield set_config
    pulumi.runtime.set_all_config({}, [])


def run_main() -> harness.Run:
    return harness.run_program(lambda: runpy.run_path(os.path.join(PROGRAM_DIR, "__main__.py"))["deployment"])


def test_configuration_keys(config):
    config({
        "aws:region": "us-west-2",
        "slackWebhookUrl": WEBHOOK_URL, "slackBotToken": BOT_TOKEN, "slackSigningSecret": SIGNING_SECRET,
        "slackActions": "true", "slackActionsRegions": json.dumps(["ap-south-1"]),
        "regions": json.dumps(["us-east-1", "us-west-2"]), "createDetector": "true",
        "findingPublishingFrequency": "SIX_HOURS", "fallbackChannel": "#sec-unrouted", "memorySize": "512",
        "timeout": "60", "retryAttempts": "0", "logRetentionDays": "90", "namePrefix": "gdr-test",
        "codePath": "/tmp/router.zip",
    }, secret=("slackWebhookUrl", "slackBotToken", "slackSigningSecret"))
    r = run_main()
    assert "aws:index/getRegion:getRegion" not in r.calls and r.deployment.home_region == "us-west-2"
    fn = r.one("aws:lambda/function:Function")
    assert fn.inputs["memorySize"] == 512 and fn.inputs["timeout"] == 60 and fn.inputs["code"].path == "/tmp/router.zip"
    assert set(fn.inputs["environment"]["variables"]) == {
        "ROUTER_DATA_DIR", "ROUTER_STATE_TABLE", "SLACK_WEBHOOK_URL_SECRET_ARN", "SLACK_BOT_TOKEN_SECRET_ARN",
        "SLACK_SIGNING_SECRET_ARN", "ROUTER_FALLBACK_CHANNEL"}
    assert r.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig").inputs["maximumRetryAttempts"] == 0
    assert r.one("aws:guardduty/detector:Detector").inputs["findingPublishingFrequency"] == "SIX_HOURS"
    assert list(r.deployment.forwarders) == ["us-east-1"]
    assert r.one("aws:lambda/functionUrl:FunctionUrl")
    assert sorted(v.inputs["secretString"] for v in r.of_type("aws:secretsmanager/secretVersion:SecretVersion")) == (
        sorted([WEBHOOK_URL, BOT_TOKEN, SIGNING_SECRET]))
    for version in r.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
        assert version.secret_inputs == {"secretString"}
    policies = {p.inputs["name"]: p.policy() for p in r.role_policies("gdr-test-router")}
    assert policies["slack-actions"]["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": ["us-west-2", "us-east-1", "ap-south-1"]}}
    assert r.outputs["homeEventBusArn"] == (f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/default", False)


def test_defaults_and_existing_secret(config):
    arn = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:slack-AbCdEf:webhook"
    config({"slackWebhookUrlSecretArn": arn})
    r = run_main()
    assert r.deployment.home_region == harness.HOME_REGION  # from the provider (getRegion)
    fn = r.one("aws:lambda/function:Function")
    assert fn.inputs["name"] == "guardduty-router-test-router"  # <project>-<stack>-router
    assert fn.inputs["memorySize"] == 256 and fn.inputs["timeout"] == 30
    assert fn.inputs["code"].path == "../../dist/router-lambda.zip"
    assert fn.inputs["environment"]["variables"]["SLACK_WEBHOOK_URL_SECRET_ARN"] == arn
    assert not r.of_type("aws:secretsmanager/secret:Secret") and not r.deployment.forwarders
    assert not r.of_type("aws:lambda/functionUrl:FunctionUrl")


def test_refuses_actions_without_a_signing_secret(config):
    config({"slackWebhookUrl": WEBHOOK_URL, "slackActions": "true"}, secret=("slackWebhookUrl",))
    with pytest.raises(ValueError, match="slackSigningSecret"):
        run_main()
    assert router_stack.Settings  # the module stays importable after a refused configuration
