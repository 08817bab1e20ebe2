"""Parity: deploy/template.yaml (SAM) and deploy/forwarder.yaml against the Pulumi program under equivalent
settings. Fails when they disagree on the rule pattern, the function's environment variable names, or the IAM
actions granted to the function (and to the forwarders)."""

from __future__ import annotations

import json
import os

import pytest

import cfn
import harness
import iam
import router_stack
from harness import ACCOUNT, DEPLOY_DIR, HOME_REGION, all_secrets, run, settings

TEMPLATE = cfn.load(os.path.join(DEPLOY_DIR, "template.yaml"))
FORWARDER = cfn.load(os.path.join(DEPLOY_DIR, "forwarder.yaml"))

WEBHOOK_ARN = f"arn:aws:secretsmanager:{HOME_REGION}:{ACCOUNT}:secret:slack/webhook-AbCdEf"
TOKEN_ARN = f"arn:aws:secretsmanager:{HOME_REGION}:{ACCOUNT}:secret:slack/bot-token-AbCdEf:token"
SIGNING_ARN = f"arn:aws:secretsmanager:{HOME_REGION}:{ACCOUNT}:secret:slack/signing-AbCdEf"

# (SAM parameters, Pulumi settings) that mean the same deployment.
EQUIVALENT = {
    "webhook only": ({"SlackWebhookSecretArn": WEBHOOK_ARN}, lambda: settings()),
    "all secrets, actions, fallback, detector id": (
        {"SlackWebhookSecretArn": WEBHOOK_ARN, "SlackBotTokenSecretArn": TOKEN_ARN,
         "SlackSigningSecretArn": SIGNING_ARN, "EnableSlackActions": "true", "FallbackChannel": "#sec",
         "GuardDutyDetectorId": "abc123"},
        lambda: all_secrets(slack_actions=True, fallback_channel="#sec", guardduty_detector_id="abc123")),
    "existing secrets by ARN, created detector": (
        {"SlackBotTokenSecretArn": TOKEN_ARN, "SlackSigningSecretArn": SIGNING_ARN, "CreateDetector": "true"},
        lambda: router_stack.Settings(slack_bot_token_secret_arn=TOKEN_ARN, slack_signing_secret_arn=SIGNING_ARN,
                                      create_detector=True, name_prefix="gdr-test")),
    "actions in forwarded regions": (
        {"SlackWebhookSecretArn": WEBHOOK_ARN, "SlackBotTokenSecretArn": TOKEN_ARN,
         "SlackSigningSecretArn": SIGNING_ARN, "EnableSlackActions": "true", "SlackActionsRegions": "us-east-1"},
        lambda: all_secrets(slack_actions=True, regions=["us-east-1"])),
    "secrets, no actions": (
        {"SlackWebhookSecretArn": WEBHOOK_ARN, "SlackBotTokenSecretArn": TOKEN_ARN,
         "SlackSigningSecretArn": SIGNING_ARN},
        lambda: all_secrets()),
}


def sam(parameters: dict) -> cfn.Evaluator:
    return cfn.Evaluator(TEMPLATE, parameters, region=HOME_REGION, account=ACCOUNT)


def sam_function(ev: cfn.Evaluator) -> dict:
    return ev.resources("AWS::Serverless::Function")["Router"]["Properties"]


def sam_actions(ev: cfn.Evaluator) -> set[str]:
    role = ev.resources("AWS::IAM::Role")["RouterRole"]["Properties"]
    return set().union(*(iam.actions_of(p["PolicyDocument"]) for p in role["Policies"]))


def pulumi_actions(r: harness.Run) -> set[str]:
    return set().union(*(iam.actions_of(p.policy()) for p in r.role_policies("gdr-test-router")))


def test_rule_pattern():
    sam_pattern = sam_function(sam({}))["Events"]["GuardDutyFindings"]["Properties"]["Pattern"]
    forwarder_pattern = FORWARDER["Resources"]["ForwardFindings"]["Properties"]["EventPattern"]
    r = run(settings(regions=["us-east-1"]))
    pulumi_patterns = [json.loads(rule.inputs["eventPattern"]) for rule in r.of_type("aws:cloudwatch/eventRule:EventRule")]
    assert len(pulumi_patterns) == 2
    for pattern in pulumi_patterns + [forwarder_pattern]:
        assert pattern == sam_pattern == router_stack.FINDING_PATTERN


@pytest.mark.parametrize("case", sorted(EQUIVALENT))
def test_function_environment_variable_names(case):
    parameters, make_settings = EQUIVALENT[case]
    sam_names = set(sam_function(sam(parameters))["Environment"]["Variables"])
    pulumi_names = set(run(make_settings()).one("aws:lambda/function:Function").inputs["environment"]["variables"])
    assert sam_names == pulumi_names


@pytest.mark.parametrize("case", sorted(EQUIVALENT))
def test_function_iam_actions(case):
    parameters, make_settings = EQUIVALENT[case]
    assert sam_actions(sam(parameters)) == pulumi_actions(run(make_settings()))


def test_forwarder_role_actions_and_target():
    ev = cfn.Evaluator(FORWARDER, {"HomeRegion": HOME_REGION}, region="us-east-1", account=ACCOUNT)
    resources = ev.resources()
    (policy,) = resources["ForwarderRole"]["Properties"]["Policies"]
    (target,) = resources["ForwardFindings"]["Properties"]["Targets"]
    r = run(settings(regions=["us-east-1"]))
    (pulumi_policy,) = r.role_policies("gdr-test-forward-us-east-1")
    assert iam.actions_of(policy["PolicyDocument"]) == iam.actions_of(pulumi_policy.policy()) == {"events:PutEvents"}
    assert policy["PolicyDocument"]["Statement"] == pulumi_policy.policy()["Statement"]
    pulumi_target = r.one("aws:cloudwatch/eventTarget:EventTarget", "gdr-test-forward-us-east-1")
    assert target["Arn"] == pulumi_target.inputs["arn"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert pulumi_target.inputs["retryPolicy"] == {"maximumRetryAttempts": 185, "maximumEventAgeInSeconds": 86400}


def test_slack_action_regions():
    # The regions where a click may act (the finding's region): the stack's, plus the forwarded ones.
    def regions(documents) -> set[str]:
        return {r for d in documents for st in d["Statement"]
                for r in iam.as_list(st.get("Condition", {}).get("StringEquals", {}).get("aws:RequestedRegion", []))}

    parameters, make_settings = EQUIVALENT["actions in forwarded regions"]
    role = sam(parameters).resources("AWS::IAM::Role")["RouterRole"]["Properties"]
    sam_regions = regions(p["PolicyDocument"] for p in role["Policies"] if p["PolicyName"] == "slack-actions")
    pulumi_regions = regions(p.policy() for p in run(make_settings()).role_policies("gdr-test-router")
                             if p.inputs["name"] == "slack-actions")
    assert sam_regions == pulumi_regions == {HOME_REGION, "us-east-1"}
