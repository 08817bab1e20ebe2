"""deploy/template.yaml (SAM) and deploy/forwarder.yaml (plain CloudFormation), read with a tolerant YAML loader and
evaluated under parameter values: what exists, with which properties."""

from __future__ import annotations

import os
import re

import cfn
import iam
from harness import DEPLOY_DIR

TEMPLATE = os.path.join(DEPLOY_DIR, "template.yaml")
FORWARDER = os.path.join(DEPLOY_DIR, "forwarder.yaml")
PATTERN = {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]}
ACCOUNT = "123456789012"

WEBHOOK_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:guardduty-router/slack-AbCdEf:webhook_url"
TOKEN_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:guardduty-router/bot-token-Zz9Yy8"
SIGNING_ARN = "arn:aws-us-gov:secretsmanager:us-gov-west-1:210987654321:secret:slack.signing@app_1-Qq1Ww2:signing"
ALL_ARNS = {"SlackWebhookSecretArn": WEBHOOK_ARN, "SlackBotTokenSecretArn": TOKEN_ARN,
            "SlackSigningSecretArn": SIGNING_ARN}


def sam(resolve_arns: bool = False, **parameters) -> cfn.Evaluator:
    return cfn.Evaluator(cfn.load(TEMPLATE), parameters, resolve_arns=resolve_arns)


def router(ev: cfn.Evaluator) -> dict:
    return ev.resources("AWS::Serverless::Function")["Router"]["Properties"]


def role_documents(ev: cfn.Evaluator) -> dict[str, dict]:
    role = ev.resources("AWS::IAM::Role")["RouterRole"]["Properties"]
    return {p["PolicyName"]: p["PolicyDocument"] for p in role["Policies"]}


def test_template_shape():
    t = cfn.load(TEMPLATE)
    assert t["Transform"] == "AWS::Serverless-2016-10-31"
    text = open(TEMPLATE, encoding="utf-8").read()
    assert "{{resolve:" not in text  # secrets are read by the function at run time, never resolved into it
    for name in ("SlackWebhookUrl", "SlackBotToken", "SlackSigningSecret"):
        spec = t["Parameters"][name]
        assert spec["NoEcho"] is True and spec["Default"] == "", name
        assert "WEAKER" in spec["Description"], name
    for name in ALL_ARNS:
        assert t["Parameters"][name]["Default"] == "" and "NoEcho" not in t["Parameters"][name]
    assert t["Parameters"]["EnableSlackActions"]["Default"] == "false"


def test_secret_arn_parameters_take_complete_arns_with_an_optional_json_key():
    pattern = cfn.load(TEMPLATE)["Parameters"]["SlackWebhookSecretArn"]["AllowedPattern"]
    for good in ("", WEBHOOK_ARN, TOKEN_ARN, SIGNING_ARN):
        assert re.fullmatch(pattern, good), good
    for bad in ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:guardduty-router/slack",  # partial ARN
                WEBHOOK_ARN + ":extra", "https://hooks.slack.com/services/T/B/X", "guardduty-router/slack"):
        assert not re.fullmatch(pattern, bad), bad


def test_function_environment_holds_the_arns_as_given():
    variables = router(sam(**ALL_ARNS))["Environment"]["Variables"]
    assert variables["SLACK_WEBHOOK_URL_SECRET_ARN"] == WEBHOOK_ARN  # ":webhook_url" kept for the function
    assert variables["SLACK_BOT_TOKEN_SECRET_ARN"] == TOKEN_ARN
    assert variables["SLACK_SIGNING_SECRET_ARN"] == SIGNING_ARN
    assert not {"SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} & set(variables)
    assert variables["ROUTER_STATE_TABLE"] == {"Ref": "FindingStateTable"}
    assert variables["ROUTER_DATA_DIR"] == "/tmp/guardduty-router"


def test_weaker_value_parameters_become_plain_variables():
    variables = router(sam(SlackWebhookUrl="https://hooks.slack.com/services/T/B/X", SlackBotToken="xoxb-1",
                           SlackSigningSecret="s"))["Environment"]["Variables"]
    assert set(variables) == {"ROUTER_DATA_DIR", "ROUTER_STATE_TABLE", "SLACK_WEBHOOK_URL", "SLACK_BOT_TOKEN",
                              "SLACK_SIGNING_SECRET"}
    assert "slack-secrets" not in role_documents(sam(SlackWebhookUrl="https://hooks.slack.com/services/T/B/X"))


def test_secrets_are_granted_exactly_without_the_json_key():
    (statement,) = role_documents(sam(**ALL_ARNS))["slack-secrets"]["Statement"]
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    assert statement["Resource"] == [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:guardduty-router/slack-AbCdEf",
        TOKEN_ARN,
        "arn:aws-us-gov:secretsmanager:us-gov-west-1:210987654321:secret:slack.signing@app_1-Qq1Ww2",
    ]
    (statement,) = role_documents(sam(SlackBotTokenSecretArn=TOKEN_ARN))["slack-secrets"]["Statement"]
    assert statement["Resource"] == [TOKEN_ARN]


def test_every_statement_is_least_privilege():
    for parameters in ({}, ALL_ARNS, {**ALL_ARNS, "EnableSlackActions": "true"},
                       {**ALL_ARNS, "EnableSlackActions": "true", "SlackActionsRegions": "us-east-1"}):
        for name, document in role_documents(sam(resolve_arns=True, **parameters)).items():
            assert iam.least_privilege_problems(document) == [], name


def test_slack_actions():
    ev = sam(**ALL_ARNS)
    assert not ev.resources("AWS::Lambda::Url") and not ev.resources("AWS::Lambda::Permission")
    assert "slack-actions" not in role_documents(ev)

    ev = sam(**ALL_ARNS, EnableSlackActions="true")
    url = ev.resources("AWS::Lambda::Url")["RouterUrl"]["Properties"]
    assert url == {"AuthType": "NONE", "TargetFunctionArn": {"Fn::GetAtt": ["Router", "Arn"]}}
    permissions = {p["Properties"]["Action"]: p["Properties"] for p in ev.resources("AWS::Lambda::Permission").values()}
    assert permissions == {
        "lambda:InvokeFunctionUrl": {"Action": "lambda:InvokeFunctionUrl", "FunctionName": {"Ref": "Router"},
                                     "Principal": "*", "FunctionUrlAuthType": "NONE"},
        "lambda:InvokeFunction": {"Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "Router"},
                                  "Principal": "*", "InvokedViaFunctionUrl": True},
    }
    unscoped, create_filter = role_documents(ev)["slack-actions"]["Statement"]
    here = {"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}}
    assert unscoped["Resource"] == "*" and unscoped["Condition"] == create_filter["Condition"] == here
    assert create_filter["Resource"] == "arn:aws:guardduty:eu-west-1:123456789012:detector/*/filter/*"
    # A click acts in the finding's region: with forwarded regions, there too (and only there).
    ev = sam(**ALL_ARNS, EnableSlackActions="true", SlackActionsRegions="us-east-1,ap-south-1")
    unscoped, create_filter = role_documents(ev)["slack-actions"]["Statement"]
    there = {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1", "ap-south-1"]}}
    assert unscoped["Condition"] == create_filter["Condition"] == there
    assert create_filter["Resource"] == "arn:aws:guardduty:*:123456789012:detector/*/filter/*"
    outputs = cfn.load(TEMPLATE)["Outputs"]
    assert outputs["SlackInteractivityUrl"]["Condition"] == "SlackActions"
    assert outputs["SlackInteractivityUrl"]["Value"] == {"Fn::GetAtt": ["RouterUrl", "FunctionUrl"]}


def test_rules_refuse_actions_without_the_signing_secret_and_deploys_without_slack():
    rules = cfn.load(TEMPLATE)["Rules"]

    def holds(rule: str, **parameters) -> bool:
        ev = sam(**parameters)
        spec = rules[rule]
        if "RuleCondition" in spec and not ev.truth(spec["RuleCondition"]):
            return True
        return all(ev.truth(a["Assert"]) for a in spec["Assertions"])

    assert not holds("SlackActionsVerifySignatures", SlackWebhookSecretArn=WEBHOOK_ARN, EnableSlackActions="true")
    assert holds("SlackActionsVerifySignatures", **ALL_ARNS, EnableSlackActions="true")
    assert holds("SlackActionsVerifySignatures", SlackWebhookSecretArn=WEBHOOK_ARN, SlackSigningSecret="s",
                 EnableSlackActions="true")
    assert holds("SlackActionsVerifySignatures", SlackWebhookSecretArn=WEBHOOK_ARN)
    assert not holds("SlackDestination")
    assert holds("SlackDestination", SlackBotTokenSecretArn=TOKEN_ARN)
    assert not holds("OneSourcePerSecret", SlackWebhookSecretArn=WEBHOOK_ARN, SlackWebhookUrl="https://x")


def test_detector_id_variable():
    assert router(sam(GuardDutyDetectorId="abc123"))["Environment"]["Variables"][
        "ROUTER_GUARDDUTY_DETECTOR_ID"] == "abc123"
    assert "ROUTER_GUARDDUTY_DETECTOR_ID" not in router(sam(CreateDetector="true"))["Environment"]["Variables"]
    assert "ROUTER_GUARDDUTY_DETECTOR_ID" not in router(sam())["Environment"]["Variables"]


def test_rule_function_table_and_queues():
    ev = sam(**ALL_ARNS)
    fn = router(ev)
    assert fn["Runtime"] == "provided.al2023" and fn["Handler"] == "bootstrap" and fn["Architectures"] == ["x86_64"]
    assert fn["Role"] == {"Fn::GetAtt": ["RouterRole", "Arn"]} and "Policies" not in fn
    event = fn["Events"]["GuardDutyFindings"]["Properties"]
    assert event["Pattern"] == PATTERN
    assert event["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert event["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["UndeliveredEventsQueue", "Arn"]}}
    assert fn["EventInvokeConfig"]["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS", "Destination": {"Fn::GetAtt": ["FailedFindingsQueue", "Arn"]}}
    table = ev.resources("AWS::DynamoDB::Table")["FindingStateTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    logs = ev.resources("AWS::Logs::LogGroup")["RouterLogGroup"]["Properties"]
    assert logs["LogGroupName"] == "/aws/lambda/gdr-router"


def test_forwarding_permissions_on_the_home_bus():
    assert not sam().resources("AWS::Events::EventBusPolicy")
    policies = sam(ForwardingOrganizationId="o-abcdef1234",
                   ForwardingAccountIds="111122223333,444455556666").resources("AWS::Events::EventBusPolicy")
    org = policies["ForwardingFromOrganization"]["Properties"]["Statement"]
    assert org["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdef1234"}}
    assert org["Action"] == "events:PutEvents" and org["Resource"] == (
        "arn:aws:events:eu-west-1:123456789012:event-bus/default")
    accounts = policies["ForwardingFromAccounts"]["Properties"]["Statement"]
    assert accounts["Principal"] == {"AWS": ["111122223333", "444455556666"]}


# deploy/forwarder.yaml

def forwarder(region: str, home: str = "eu-west-1", home_account: str = "") -> cfn.Evaluator:
    return cfn.Evaluator(cfn.load(FORWARDER), {"HomeRegion": home, "HomeAccountId": home_account},
                         region=region, account=ACCOUNT)


def test_forwarder_is_plain_cloudformation():
    t = cfn.load(FORWARDER)
    assert "Transform" not in t
    assert all(not r["Type"].startswith("AWS::Serverless::") for r in t["Resources"].values())


def test_forwarder_creates_nothing_in_the_home_region():
    ev = forwarder("eu-west-1")
    assert set(ev.resources()) == {"NothingToForwardHere"}
    assert ev.resources()["NothingToForwardHere"]["Type"] == "AWS::CloudFormation::WaitConditionHandle"
    assert ev.value(cfn.load(FORWARDER)["Outputs"]["Forwarding"]["Value"]) == "false"


def test_forwarder_targets_the_home_default_bus_with_a_put_events_only_role():
    for home_account, bus_account in (("", ACCOUNT), (ACCOUNT, ACCOUNT), ("210987654321", "210987654321")):
        for region in ("us-east-1", "eu-west-1") if home_account == "210987654321" else ("us-east-1",):
            ev = forwarder(region, home_account=home_account)
            resources = ev.resources()
            assert "NothingToForwardHere" not in resources
            bus = f"arn:aws:events:eu-west-1:{bus_account}:event-bus/default"
            rule = resources["ForwardFindings"]["Properties"]
            assert rule["EventPattern"] == PATTERN and rule["EventBusName"] == "default"
            (target,) = rule["Targets"]
            assert target["Arn"] == bus
            assert target["RoleArn"] == {"Fn::GetAtt": ["ForwarderRole", "Arn"]}
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["UndeliveredFindingsQueue", "Arn"]}}
            role = resources["ForwarderRole"]["Properties"]
            assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
                "Service": "events.amazonaws.com"}
            (policy,) = role["Policies"]
            assert policy["PolicyDocument"]["Statement"] == [
                {"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}]
            assert iam.least_privilege_problems(policy["PolicyDocument"]) == []
