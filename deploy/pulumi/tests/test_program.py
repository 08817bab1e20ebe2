"""The Pulumi program under Pulumi's mocks: what it registers, resource by resource."""

from __future__ import annotations

import json

import pulumi
import pytest

import harness
import iam
import router_stack
from harness import ACCOUNT, HOME_REGION, SECRET_VALUES, all_secrets, run, settings

FUNCTION = "aws:lambda/function:Function"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
PERMISSION = "aws:lambda/permission:Permission"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
HOME_BUS = f"arn:aws:events:{HOME_REGION}:{ACCOUNT}:event-bus/default"
PATTERN = {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]}

ROUTER_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage", "dynamodb:GetItem",
                  "dynamodb:PutItem"}
SECRET_ACTIONS = {"secretsmanager:GetSecretValue"}
SLACK_ACTION_ACTIONS = {"guardduty:ListDetectors", "guardduty:ArchiveFindings", "guardduty:UnarchiveFindings",
                        "guardduty:UpdateFindingsFeedback", "guardduty:CreateFilter"}


def router_function(r: harness.Run) -> harness.Registration:
    return r.one(FUNCTION)


def env(r: harness.Run) -> dict[str, str]:
    return router_function(r).inputs["environment"]["variables"]


def router_documents(r: harness.Run) -> dict[str, dict]:
    return {p.inputs["name"]: p.policy() for p in r.role_policies("gdr-test-router")}


def queue_arn(r: harness.Run, name: str) -> str:
    return r.one(QUEUE, name).state["arn"]


# The rule, its target and what catches what it cannot deliver.

def test_rule_matches_guardduty_findings_and_targets_the_function():
    r = run(settings())
    rule = r.one(RULE, "gdr-test-guardduty-findings")
    assert json.loads(rule.inputs["eventPattern"]) == PATTERN
    assert rule.region == HOME_REGION and "eventBusName" not in rule.inputs  # the default bus
    target = r.one(TARGET, "gdr-test-guardduty-findings")
    assert target.inputs["rule"] == rule.state["name"]
    assert target.inputs["arn"] == router_function(r).state["arn"]
    assert target.inputs["retryPolicy"] == {"maximumRetryAttempts": 185, "maximumEventAgeInSeconds": 86400}
    assert target.inputs["deadLetterConfig"] == {"arn": queue_arn(r, "gdr-test-undelivered-events")}
    permission = r.one(PERMISSION, "gdr-test-guardduty-findings")
    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["sourceArn"] == rule.state["arn"]
    # Only this rule may drop events into the undelivered queue.
    (statement,) = r.one(QUEUE_POLICY, "gdr-test-undelivered-events").policy()["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Resource"] == queue_arn(r, "gdr-test-undelivered-events")
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.state["arn"]}}


def test_failed_invocations_go_to_the_failure_queue():
    for retries in (0, 2):
        r = run(settings(retry_attempts=retries))
        config = r.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig")
        assert config.inputs["functionName"] == "gdr-test-router"
        assert config.inputs["maximumRetryAttempts"] == retries
        assert config.inputs["maximumEventAgeInSeconds"] == 21600
        assert config.inputs["destinationConfig"] == {
            "onFailure": {"destination": queue_arn(r, "gdr-test-failed-findings")}}
        for queue in r.of_type(QUEUE):
            assert queue.inputs["messageRetentionSeconds"] == 1209600 and queue.inputs["sqsManagedSseEnabled"]


# The function.

def test_function_settings():
    r = run(settings())
    fn = router_function(r)
    assert fn.inputs["name"] == "gdr-test-router"
    assert fn.inputs["runtime"] == "provided.al2023"
    assert fn.inputs["handler"] == "bootstrap"
    assert fn.inputs["architectures"] == ["x86_64"]
    assert fn.inputs["memorySize"] == 256 and fn.inputs["timeout"] == 30
    assert isinstance(fn.inputs["code"], pulumi.FileArchive)
    assert fn.inputs["code"].path == "../../dist/router-lambda.zip"
    assert fn.inputs["role"] == r.one(ROLE, "gdr-test-router").state["arn"]
    logs = r.one("aws:cloudwatch/logGroup:LogGroup")
    assert logs.inputs["name"] == "/aws/lambda/gdr-test-router" and logs.inputs["retentionInDays"] == 30

    r = run(settings(memory_size=1024, timeout=120, log_retention_days=90, code_path="/tmp/router.zip"))
    fn = router_function(r)
    assert fn.inputs["memorySize"] == 1024 and fn.inputs["timeout"] == 120
    assert fn.inputs["code"].path == "/tmp/router.zip"
    assert r.one("aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == 90


def test_environment_holds_secret_arns_and_plain_settings_only():
    r = run(all_secrets(slack_actions=True, fallback_channel="#sec-unrouted", guardduty_detector_id="abc123"))
    variables = env(r)
    secrets = {s.name: s.state["arn"] for s in r.of_type(SECRET)}
    assert variables == {
        "ROUTER_DATA_DIR": "/tmp/guardduty-router",
        "ROUTER_STATE_TABLE": "gdr-test-finding-state",
        "SLACK_WEBHOOK_URL_SECRET_ARN": secrets["gdr-test-slack-webhook-url"],
        "SLACK_BOT_TOKEN_SECRET_ARN": secrets["gdr-test-slack-bot-token"],
        "SLACK_SIGNING_SECRET_ARN": secrets["gdr-test-slack-signing-secret"],
        "ROUTER_FALLBACK_CHANNEL": "#sec-unrouted",
        "ROUTER_GUARDDUTY_DETECTOR_ID": "abc123",
    }
    fn = router_function(r)
    assert not fn.secret_inputs
    text = json.dumps(fn.inputs, default=str)
    for secret in SECRET_VALUES:
        assert secret not in text
    for name, value in variables.items():
        assert not name.endswith("_SECRET_ARN") or router_stack.SECRET_ARN.match(value), name


def test_environment_for_fewer_settings():
    r = run(settings())
    assert set(env(r)) == {"ROUTER_DATA_DIR", "ROUTER_STATE_TABLE", "SLACK_WEBHOOK_URL_SECRET_ARN"}
    r = run(settings(create_detector=True, finding_publishing_frequency="ONE_HOUR"))
    detector = r.one("aws:guardduty/detector:Detector")
    assert detector.inputs == {"enable": True, "findingPublishingFrequency": "ONE_HOUR"}
    # Not passed on: ROUTER_GUARDDUTY_DETECTOR_ID applies to every region, and detector IDs differ per region.
    assert "ROUTER_GUARDDUTY_DETECTOR_ID" not in env(r)
    assert r.outputs["detectorId"] == ("0123456789abcdef0123456789abcdef", False)
    assert not run(settings()).of_type("aws:guardduty/detector:Detector")


def test_existing_secrets_are_passed_as_given_and_granted_without_the_json_key():
    webhook = f"arn:aws:secretsmanager:{HOME_REGION}:{ACCOUNT}:secret:slack/router-AbCdEf:webhook_url"
    token = f"arn:aws:secretsmanager:{HOME_REGION}:{ACCOUNT}:secret:slack/bot-token-Zz9Yy8"
    r = run(router_stack.Settings(slack_webhook_url_secret_arn=webhook, slack_bot_token_secret_arn=token,
                                  name_prefix="gdr-test"))
    assert not r.of_type(SECRET) and not r.of_type(SECRET_VERSION)
    assert env(r)["SLACK_WEBHOOK_URL_SECRET_ARN"] == webhook
    assert env(r)["SLACK_BOT_TOKEN_SECRET_ARN"] == token
    (statement,) = router_documents(r)["slack-secrets"]["Statement"]
    assert statement["Resource"] == [webhook.rsplit(":", 1)[0], token]
    assert router_stack.secret_arn_without_key(webhook) == webhook.rsplit(":", 1)[0]
    assert router_stack.secret_arn_without_key(token) == token


# Secrets.

def test_secret_values_go_to_secrets_manager_only_and_stay_secret():
    r = run(all_secrets(slack_actions=True))
    versions = {v.name: v for v in r.of_type(SECRET_VERSION)}
    assert set(versions) == {"gdr-test-slack-webhook-url", "gdr-test-slack-bot-token", "gdr-test-slack-signing-secret"}
    stored = {}
    for version in versions.values():
        assert version.secret_inputs == {"secretString"}, version.name  # sent to the engine as a secret
        assert "secretString" in version.additional_secret_outputs  # and kept secret in the state
        stored[version.name] = version.inputs["secretString"]
    assert sorted(stored.values()) == sorted(SECRET_VALUES)
    for secret in r.of_type(SECRET):
        assert secret.inputs["namePrefix"].startswith("gdr-test/")
    # Nothing else holds a secret value: no other input, no stack output.
    for registration in r.registrations:
        inputs = {k: v for k, v in registration.inputs.items()
                  if not (registration.type == SECRET_VERSION and k == "secretString")}
        text = json.dumps(inputs, default=str)
        for secret in SECRET_VALUES:
            assert secret not in text, f"{registration.type} {registration.name}"
    for name, (value, is_secret) in r.outputs.items():
        text = json.dumps(value, default=str)
        assert not any(secret in text for secret in SECRET_VALUES), name
    # The outputs the stack exports are ARNs, names and URLs: none is (or needs to be) secret.
    assert not [name for name, (_, is_secret) in r.outputs.items() if is_secret]


def test_outputs_derived_from_a_secret_are_secret():
    # The program itself never exports a secret; this proves the mechanism the stack relies on if one were added.
    value = pulumi.Output.secret(harness.WEBHOOK_URL).apply(lambda url: url.split("/")[2])
    assert harness.resolve(value) == ("hooks.slack.com", True)


# Permissions.

def test_every_statement_is_least_privilege():
    r = run(all_secrets(slack_actions=True, regions=["us-east-1", "ap-southeast-2"], create_detector=True))
    for policy in r.of_type(ROLE_POLICY):
        assert iam.least_privilege_problems(policy.policy()) == [], policy.name


def test_the_function_gets_exactly_the_actions_it_needs():
    cases = [
        (settings(), ROUTER_ACTIONS | SECRET_ACTIONS),
        (all_secrets(), ROUTER_ACTIONS | SECRET_ACTIONS),
        (all_secrets(slack_actions=True), ROUTER_ACTIONS | SECRET_ACTIONS | SLACK_ACTION_ACTIONS),
    ]
    for s, expected in cases:
        r = run(s)
        documents = router_documents(r)
        assert set().union(*(iam.actions_of(d) for d in documents.values())) == expected
    # Each resource named: the log streams of the function's log group, the failure queue, the table, the secrets.
    r = run(all_secrets(slack_actions=True))
    documents = router_documents(r)
    assert documents["logs"]["Statement"][0]["Resource"] == (
        f"arn:aws:logs:{HOME_REGION}:{ACCOUNT}:log-group:/aws/lambda/gdr-test-router:log-stream:*")
    assert documents["failure-destination"]["Statement"][0]["Resource"] == queue_arn(r, "gdr-test-failed-findings")
    assert documents["finding-state"]["Statement"][0]["Resource"] == r.one(
        "aws:dynamodb/table:Table").state["arn"]
    assert sorted(documents["slack-secrets"]["Statement"][0]["Resource"]) == sorted(
        s.state["arn"] for s in r.of_type(SECRET))
    unscoped, create_filter = documents["slack-actions"]["Statement"]
    assert unscoped["Resource"] == "*"
    assert unscoped["Condition"] == {"StringEquals": {"aws:RequestedRegion": [HOME_REGION]}}
    assert create_filter == {"Effect": "Allow", "Action": "guardduty:CreateFilter",
                             "Resource": [f"arn:aws:guardduty:{HOME_REGION}:{ACCOUNT}:detector/*/filter/*"],
                             "Condition": {"StringEquals": {"aws:RequestedRegion": [HOME_REGION]}}}
    # A click acts in the finding's region: the home region, the forwarded ones, and slackActionsRegions.
    r2 = run(all_secrets(slack_actions=True, regions=["us-east-1", HOME_REGION],
                         slack_actions_regions=["ap-south-1", "us-east-1"]))
    unscoped, create_filter = router_documents(r2)["slack-actions"]["Statement"]
    regions = [HOME_REGION, "us-east-1", "ap-south-1"]
    assert unscoped["Condition"] == create_filter["Condition"] == {"StringEquals": {"aws:RequestedRegion": regions}}
    assert create_filter["Resource"] == [f"arn:aws:guardduty:{x}:{ACCOUNT}:detector/*/filter/*" for x in regions]
    trust = json.loads(r.one(ROLE, "gdr-test-router").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                   "Action": "sts:AssumeRole",
                                   "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]


# The state table.

def test_state_table_key_and_ttl():
    table = run(settings()).one("aws:dynamodb/table:Table")
    assert table.inputs["hashKey"] == "pk" and "rangeKey" not in table.inputs
    assert table.inputs["attributes"] == [{"name": "pk", "type": "S"}]
    assert table.inputs["ttl"] == {"attributeName": "expires_at", "enabled": True}
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["serverSideEncryption"] == {"enabled": True}


# Slack actions.

def test_function_url_only_with_slack_actions():
    r = run(all_secrets())
    assert not r.of_type(FUNCTION_URL)
    assert [p.inputs["principal"] for p in r.of_type(PERMISSION)] == ["events.amazonaws.com"]
    assert "slackInteractivityUrl" not in r.outputs

    r = run(all_secrets(slack_actions=True))
    url = r.one(FUNCTION_URL)
    assert url.inputs == {"functionName": "gdr-test-router", "authorizationType": "NONE"}
    public = {p.inputs["action"]: p.inputs for p in r.of_type(PERMISSION) if p.inputs["principal"] == "*"}
    assert public == {
        "lambda:InvokeFunctionUrl": {"action": "lambda:InvokeFunctionUrl", "function": "gdr-test-router",
                                     "principal": "*", "functionUrlAuthType": "NONE"},
        # Public lambda:InvokeFunction, but only through the function URL.
        "lambda:InvokeFunction": {"action": "lambda:InvokeFunction", "function": "gdr-test-router",
                                  "principal": "*", "invokedViaFunctionUrl": True},
    }
    assert r.outputs["slackInteractivityUrl"] == (url.state["functionUrl"], False)


def test_configuration_mistakes_are_refused():
    webhook = f"arn:aws:secretsmanager:{HOME_REGION}:{ACCOUNT}:secret:slack/router-AbCdEf"
    with pytest.raises(ValueError, match="slackSigningSecret"):
        router_stack.build(settings(slack_actions=True))
    with pytest.raises(ValueError, match="not both"):
        router_stack.build(settings(slack_webhook_url_secret_arn=webhook))
    with pytest.raises(ValueError, match="complete secret ARN"):
        router_stack.build(router_stack.Settings(
            slack_webhook_url_secret_arn=f"arn:aws:secretsmanager:{HOME_REGION}:{ACCOUNT}:secret:slack/router"))
    with pytest.raises(ValueError, match="webhook URL or bot token"):
        router_stack.build(router_stack.Settings(slack_signing_secret=pulumi.Output.secret("x")))
    with pytest.raises(ValueError, match="regions"):
        router_stack.build(settings(regions=["mars-1"]))


# Forwarders.

def test_forwarders_one_per_other_region_to_the_home_bus():
    r = run(settings(regions=["us-east-1", HOME_REGION, "ap-southeast-2", "us-east-1"]))
    assert sorted(r.deployment.forwarders) == ["ap-southeast-2", "us-east-1"]
    assert sorted(r.outputs["forwarders"][0]) == ["ap-southeast-2", "us-east-1"]
    # In the home region there is only the router's own rule.
    assert [rule.name for rule in r.of_type(RULE) if rule.region == HOME_REGION] == ["gdr-test-guardduty-findings"]
    for region in ("us-east-1", "ap-southeast-2"):
        name = f"gdr-test-forward-{region}"
        rule = r.one(RULE, name)
        assert rule.inputs["region"] == region
        assert json.loads(rule.inputs["eventPattern"]) == PATTERN
        target = r.one(TARGET, name)
        assert target.inputs["region"] == region and target.inputs["rule"] == rule.state["name"]
        assert target.inputs["arn"] == HOME_BUS
        role = r.one(ROLE, name)
        assert target.inputs["roleArn"] == role.state["arn"]
        dlq = r.one(QUEUE, f"{name}-undelivered")
        assert dlq.inputs["region"] == region
        assert target.inputs["deadLetterConfig"] == {"arn": dlq.state["arn"]}
        assert target.inputs["retryPolicy"] == {"maximumRetryAttempts": 185, "maximumEventAgeInSeconds": 86400}
        (policy,) = r.role_policies(role.state["name"])
        assert policy.policy()["Statement"] == [{"Effect": "Allow", "Action": "events:PutEvents",
                                                 "Resource": HOME_BUS}]
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust == [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                          "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]
        (statement,) = r.one(QUEUE_POLICY, f"{name}-undelivered").policy()["Statement"]
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.state["arn"]}}
        assert statement["Resource"] == dlq.state["arn"]


def test_home_region_comes_from_the_provider_unless_configured():
    r = run(settings(regions=["us-east-1"]))
    assert "aws:index/getRegion:getRegion" in r.calls and r.deployment.home_region == HOME_REGION
    r = run(settings(home_region="us-east-1", regions=["us-east-1", HOME_REGION]))
    assert "aws:index/getRegion:getRegion" not in r.calls
    assert list(r.deployment.forwarders) == [HOME_REGION]
    assert r.one(TARGET, f"gdr-test-forward-{HOME_REGION}").inputs["arn"] == (
        f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default")


def test_other_accounts_may_put_events_on_the_home_bus_when_asked():
    assert not run(settings()).of_type("aws:cloudwatch/eventPermission:EventPermission")
    r = run(settings(forwarding_organization_id="o-abcdef1234", forwarding_account_ids=["111122223333"]))
    permissions = {p.name: p.inputs for p in r.of_type("aws:cloudwatch/eventPermission:EventPermission")}
    assert permissions["gdr-test-forwarding-organization"] == {
        "eventBusName": "default", "statementId": "gdr-test-forwarding-organization", "principal": "*",
        "action": "events:PutEvents",
        "condition": {"key": "aws:PrincipalOrgID", "type": "StringEquals", "value": "o-abcdef1234"}}
    assert permissions["gdr-test-forwarding-111122223333"]["principal"] == "111122223333"
