"""Policies for guardduty-router stacks (pulumi-policy): Slack secrets stay out of Lambda configurations, and a
public function URL exists only in front of a function that verifies Slack's request signatures.

The validate functions are plain callables (args, report_violation): the unit tests call them directly with good
and bad resources, and over the resources of the real program under Pulumi's mocks. __main__.py serves them as the
policy pack (`pulumi preview --policy-pack deploy/pulumi/policy`).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Optional

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

FUNCTION = "aws:lambda/function:Function"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"

# A Slack incoming webhook (hooks.slack.com, GovSlack's hooks.slack-gov.com) or a Slack token: bot (xoxb-), user
# (xoxp-), app-level config (xoxa-), refresh (xoxr-); rotating tokens (xoxe.xoxb-...) contain the same marks.
SLACK_WEBHOOK = re.compile(r"https?://hooks\.slack(-gov)?\.com/", re.IGNORECASE)
SLACK_TOKEN = re.compile(r"xox[abpr]-[A-Za-z0-9-]+")

# The environment variables that show the function verifies Slack's signatures (the signing secret's ARN, or the
# weaker plain value).
SIGNATURE_CHECK_VARIABLES = ("SLACK_SIGNING_SECRET_ARN", "SLACK_SIGNING_SECRET")

ReportViolation = Callable[[str, Optional[str]], None]


def _variables(props: Mapping[str, Any]) -> Mapping[str, Any]:
    environment = props.get("environment") or {}
    variables = environment.get("variables") if isinstance(environment, Mapping) else None
    return variables if isinstance(variables, Mapping) else {}


def looks_like_slack_secret(value: Any) -> bool:
    return isinstance(value, str) and bool(SLACK_WEBHOOK.search(value) or SLACK_TOKEN.search(value))


def no_slack_secret_in_function_environment(args: Any, report_violation: ReportViolation) -> None:
    """(a) No Lambda function's environment holds a Slack webhook URL or token (put them in Secrets Manager and pass
    the ARN: SLACK_WEBHOOK_URL_SECRET_ARN, SLACK_BOT_TOKEN_SECRET_ARN)."""
    if args.resource_type != FUNCTION:
        return
    for name, value in _variables(args.props).items():
        if looks_like_slack_secret(value):
            # Name the variable, never the value.
            report_violation(
                f"environment variable {name} of function {args.name} holds a Slack webhook URL or token; "
                "store it in Secrets Manager and pass its ARN (e.g. SLACK_WEBHOOK_URL_SECRET_ARN) instead",
                None,
            )


def public_function_url_needs_signature_check(args: Any, report_violation: ReportViolation) -> None:
    """(b) A function URL with authorization NONE only in front of a function of this stack whose environment shows
    it verifies Slack's signatures (SLACK_SIGNING_SECRET_ARN or SLACK_SIGNING_SECRET set)."""
    functions: dict[str, Any] = {}
    for resource in args.resources:
        if resource.resource_type == FUNCTION:
            for key in ("name", "arn"):
                value = resource.props.get(key)
                if isinstance(value, str) and value:
                    functions[value] = resource
    for resource in args.resources:
        if resource.resource_type != FUNCTION_URL or resource.props.get("authorizationType") != "NONE":
            continue
        target = resource.props.get("functionName")
        function = functions.get(target) if isinstance(target, str) else None
        if function is None:
            report_violation(
                f"function URL {resource.name} has authorization NONE and its function ({target}) is not in this "
                "stack, so nothing shows that it verifies Slack's request signatures",
                resource.urn,
            )
            continue
        variables = _variables(function.props)
        if not any(isinstance(variables.get(k), str) and variables.get(k) for k in SIGNATURE_CHECK_VARIABLES):
            report_violation(
                f"function URL {resource.name} has authorization NONE but function {function.name} has neither "
                f"{' nor '.join(SIGNATURE_CHECK_VARIABLES)}: anyone could call it unverified",
                resource.urn,
            )


POLICIES = [
    ResourceValidationPolicy(
        name="no-slack-secret-in-lambda-environment",
        description="Lambda environment variables must not hold Slack webhook URLs or tokens (use Secrets Manager ARNs).",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=no_slack_secret_in_function_environment,
    ),
    StackValidationPolicy(
        name="public-function-url-verifies-slack-signatures",
        description="A function URL with authorization NONE needs a function that verifies Slack's signatures.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=public_function_url_needs_signature_check,
    ),
]
