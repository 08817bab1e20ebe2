"""The policy pack (deploy/pulumi/policy): its validate functions called directly with good and bad resources, and
over the resources of the real program under Pulumi's mocks."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

import harness
import slack_policies
from harness import BOT_TOKEN, WEBHOOK_URL, all_secrets, run

FUNCTION = slack_policies.FUNCTION
FUNCTION_URL = slack_policies.FUNCTION_URL
SIGNING_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack/signing-AbCdEf"


def resource(resource_type: str, resource_name: str, props: dict[str, Any]) -> SimpleNamespace:
    """What pulumi-policy passes a validation: the type, name, URN and properties (engine names, camelCase)."""
    return SimpleNamespace(resource_type=resource_type, name=resource_name, props=props,
                           urn=f"urn:pulumi:test::guardduty-router::{resource_type}::{resource_name}")


def function(name: str, **variables: str) -> SimpleNamespace:
    return resource(FUNCTION, name, {"name": name, "arn": f"arn:aws:lambda:eu-west-1:123456789012:function:{name}",
                                     "environment": {"variables": variables}})


def violations_of_environment(r: SimpleNamespace) -> list[str]:
    found: list[str] = []
    slack_policies.no_slack_secret_in_function_environment(r, lambda message, urn=None: found.append(message))
    return found


def violations_of_stack(*resources: SimpleNamespace) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    slack_policies.public_function_url_needs_signature_check(
        SimpleNamespace(resources=list(resources)), lambda message, urn=None: found.append((message, urn)))
    return found


def test_environment_policy_flags_webhooks_and_tokens_by_name_only():
    for bad in (WEBHOOK_URL, BOT_TOKEN, "xoxp-12345-67890-abc", "xoxe.xoxb-1-abcdef", "xoxa-2-abc", "xoxr-abc",
                "https://hooks.slack-gov.com/services/T/B/X", "prefix " + WEBHOOK_URL):
        found = violations_of_environment(function("f", SLACK_WEBHOOK_URL=bad))
        assert len(found) == 1 and "SLACK_WEBHOOK_URL" in found[0], bad
        assert bad not in found[0]  # the message never repeats the secret
    for good in ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack/webhook-AbCdEf", "/tmp/guardduty-router",
                 "#sec-alerts", "https://slack.com/api", "xoxo", ""):
        assert violations_of_environment(function("f", VALUE=good)) == [], good
    assert violations_of_environment(function("f")) == []
    # Only functions are its business.
    assert violations_of_environment(resource("aws:sqs/queue:Queue", "q", {
        "environment": {"variables": {"X": WEBHOOK_URL}}})) == []


def test_function_url_policy():
    url = resource(FUNCTION_URL, "u", {"functionName": "router", "authorizationType": "NONE"})
    assert violations_of_stack(function("router", SLACK_SIGNING_SECRET_ARN=SIGNING_ARN), url) == []
    assert violations_of_stack(function("router", SLACK_SIGNING_SECRET="s"), url) == []
    by_arn = resource(FUNCTION_URL, "u", {"authorizationType": "NONE",
                                          "functionName": "arn:aws:lambda:eu-west-1:123456789012:function:router"})
    assert violations_of_stack(function("router", SLACK_SIGNING_SECRET_ARN=SIGNING_ARN), by_arn) == []
    (found,) = violations_of_stack(function("router", SLACK_WEBHOOK_URL_SECRET_ARN=SIGNING_ARN), url)
    assert "SLACK_SIGNING_SECRET_ARN" in found[0] and found[1] == url.urn
    (found,) = violations_of_stack(function("router", SLACK_SIGNING_SECRET_ARN=""), url)
    (found,) = violations_of_stack(function("other", SLACK_SIGNING_SECRET_ARN=SIGNING_ARN), url)
    assert "not in this stack" in found[0]
    iam_url = resource(FUNCTION_URL, "u", {"functionName": "router", "authorizationType": "AWS_IAM"})
    assert violations_of_stack(function("router"), iam_url) == []


def test_policy_pack_wiring():
    by_name = {p.name: p for p in slack_policies.POLICIES}
    environment = by_name["no-slack-secret-in-lambda-environment"]
    stack = by_name["public-function-url-verifies-slack-signatures"]
    assert isinstance(environment, ResourceValidationPolicy) and isinstance(stack, StackValidationPolicy)
    assert environment.enforcement_level == stack.enforcement_level == EnforcementLevel.MANDATORY
    found: list[str] = []
    environment.validate(function("f", X=BOT_TOKEN), lambda message, urn=None: found.append(message))
    assert len(found) == 1


def policy_resources(r: harness.Run) -> list[SimpleNamespace]:
    """The program's resources as a stack policy sees them (outputs: inputs plus what the provider computed)."""
    return [resource(reg.type, reg.name, reg.state) for reg in r.registrations]


def test_the_real_program_passes_the_policies():
    for s in (harness.settings(), all_secrets(), all_secrets(slack_actions=True, regions=["us-east-1"])):
        resources = policy_resources(run(s))
        for r in resources:
            assert violations_of_environment(r) == [], r.name
        assert violations_of_stack(*resources) == []


def test_the_policies_see_the_real_program_shape():
    # The same program with the signing secret's variable removed, and with a webhook URL put back in plain text:
    # both policies notice, so they really read the program's resources.
    resources = policy_resources(run(all_secrets(slack_actions=True)))
    fn = next(r for r in resources if r.resource_type == FUNCTION)
    del fn.props["environment"]["variables"]["SLACK_SIGNING_SECRET_ARN"]
    assert len(violations_of_stack(*resources)) == 1
    fn.props["environment"]["variables"]["SLACK_WEBHOOK_URL"] = WEBHOOK_URL
    assert len(violations_of_environment(fn)) == 1
