"""guardduty-router on AWS with Pulumi: what deploy/template.yaml (AWS SAM) deploys, plus the forwarders of
deploy/forwarder.yaml for the other regions of one account, in one stack.

`build(Settings)` creates the resources; `settings_from_config()` reads the stack's configuration (see README.md).
The unit tests (tests/) call `build` under Pulumi's mocks, so nothing here may need the Pulumi CLI, the AWS provider
plugin or credentials beyond the invokes getCallerIdentity/getPartition (and getRegion when aws:region is not set).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

# The EventBridge pattern of the router's rule and of every forwarder (the same as deploy/template.yaml's).
FINDING_PATTERN: dict[str, list[str]] = {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]}

# An ECS-style secret reference: the complete secret ARN (6-character suffix included), optionally ":json-key".
SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}(:[^:]+)?$"
)

PUBLISHING_FREQUENCIES = ("FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS")
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 180, 365)

# The Slack secrets: (value setting, existing-secret setting, environment variable of the ARN, name of the secret
# created from a config value).
SLACK_SECRETS = (
    ("slack_webhook_url", "slack_webhook_url_secret_arn", "SLACK_WEBHOOK_URL_SECRET_ARN", "slack-webhook-url"),
    ("slack_bot_token", "slack_bot_token_secret_arn", "SLACK_BOT_TOKEN_SECRET_ARN", "slack-bot-token"),
    ("slack_signing_secret", "slack_signing_secret_arn", "SLACK_SIGNING_SECRET_ARN", "slack-signing-secret"),
)


def secret_arn_without_key(reference: str) -> str:
    """`arn:...:secret:NAME-AbCdEf:key` -> `arn:...:secret:NAME-AbCdEf` (IAM grants on the secret, not the key)."""
    return ":".join(reference.split(":")[:7])


@dataclass
class Settings:
    """The stack's configuration (README.md has the config keys). Secret values are Pulumi secret Outputs."""

    slack_webhook_url: Optional[pulumi.Input[str]] = None
    slack_bot_token: Optional[pulumi.Input[str]] = None
    slack_signing_secret: Optional[pulumi.Input[str]] = None
    # Existing secrets instead of values: complete ARNs, optionally ":json-key" (mutually exclusive with the values).
    slack_webhook_url_secret_arn: Optional[str] = None
    slack_bot_token_secret_arn: Optional[str] = None
    slack_signing_secret_arn: Optional[str] = None
    create_detector: bool = False
    finding_publishing_frequency: str = "FIFTEEN_MINUTES"
    fallback_channel: str = ""
    memory_size: int = 256
    timeout: int = 30
    retry_attempts: int = 2
    log_retention_days: int = 30
    slack_actions: bool = False
    # Regions besides the home region and `regions` whose findings reach the router (forwarded by StackSets, say):
    # a click acts in the finding's own region.
    slack_actions_regions: list[str] = field(default_factory=list)
    guardduty_detector_id: str = ""
    # Other regions of this account whose findings are forwarded to the home region (the stack's aws:region).
    regions: list[str] = field(default_factory=list)
    forwarding_organization_id: str = ""
    forwarding_account_ids: list[str] = field(default_factory=list)
    code_path: str = "../../dist/router-lambda.zip"
    name_prefix: str = "guardduty-router"
    # The home region; None: the provider's (aws:region), asked with the getRegion invoke.
    home_region: Optional[str] = None

    def validate(self) -> None:
        problems = []
        for setting, arn_setting, _, _ in SLACK_SECRETS:
            arn = getattr(self, arn_setting)
            if arn is not None and getattr(self, setting) is not None:
                problems.append(f"set {setting} or {arn_setting}, not both")
            if arn is not None and not SECRET_ARN.match(arn):
                problems.append(f"{arn_setting} must be a complete secret ARN, optionally ':json-key': {arn!r}")
        if not (self.has("slack_webhook_url") or self.has("slack_bot_token")):
            problems.append("set a Slack webhook URL or bot token (slackWebhookUrl / slackBotToken)")
        if self.slack_actions and not self.has("slack_signing_secret"):
            problems.append(
                "slackActions opens an unauthenticated function URL: set slackSigningSecret so the function can "
                "verify Slack's request signatures"
            )
        if self.finding_publishing_frequency not in PUBLISHING_FREQUENCIES:
            problems.append(f"findingPublishingFrequency must be one of {', '.join(PUBLISHING_FREQUENCIES)}")
        if not 128 <= self.memory_size <= 10240:
            problems.append("memorySize must be 128 to 10240")
        if not 5 <= self.timeout <= 900:
            problems.append("timeout must be 5 to 900 seconds")
        if not 0 <= self.retry_attempts <= 2:
            problems.append("retryAttempts must be 0 to 2")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            problems.append(f"logRetentionDays must be one of {LOG_RETENTION_DAYS}")
        if self.guardduty_detector_id and not re.fullmatch(r"[A-Za-z0-9]+", self.guardduty_detector_id):
            problems.append("guardDutyDetectorId must be alphanumeric")
        if self.forwarding_organization_id and not re.fullmatch(r"o-[a-z0-9]{10,32}", self.forwarding_organization_id):
            problems.append("forwardingOrganizationId must look like o-abcd123456")
        for account in self.forwarding_account_ids:
            if not re.fullmatch(r"[0-9]{12}", account):
                problems.append(f"forwardingAccountIds: {account!r} is not an account ID")
        for key, regions in (("regions", self.regions), ("slackActionsRegions", self.slack_actions_regions)):
            for region in regions:
                if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]+", region):
                    problems.append(f"{key}: {region!r} is not a region name")
        if problems:
            raise ValueError("guardduty-router configuration: " + "; ".join(problems))

    def has(self, setting: str) -> bool:
        arn_setting = next(a for v, a, _, _ in SLACK_SECRETS if v == setting)
        return getattr(self, setting) is not None or getattr(self, arn_setting) is not None


def settings_from_config() -> Settings:
    """The stack's configuration (`pulumi config set [--secret] KEY VALUE`)."""
    cfg = pulumi.Config()

    def integer(key: str, default: int) -> int:
        value = cfg.get_int(key)
        return default if value is None else value

    return Settings(
        slack_webhook_url=cfg.get_secret("slackWebhookUrl"),
        slack_bot_token=cfg.get_secret("slackBotToken"),
        slack_signing_secret=cfg.get_secret("slackSigningSecret"),
        slack_webhook_url_secret_arn=cfg.get("slackWebhookUrlSecretArn"),
        slack_bot_token_secret_arn=cfg.get("slackBotTokenSecretArn"),
        slack_signing_secret_arn=cfg.get("slackSigningSecretArn"),
        create_detector=bool(cfg.get_bool("createDetector")),
        finding_publishing_frequency=cfg.get("findingPublishingFrequency") or "FIFTEEN_MINUTES",
        fallback_channel=cfg.get("fallbackChannel") or "",
        memory_size=integer("memorySize", 256),
        timeout=integer("timeout", 30),
        retry_attempts=integer("retryAttempts", 2),
        log_retention_days=integer("logRetentionDays", 30),
        slack_actions=bool(cfg.get_bool("slackActions")),
        slack_actions_regions=list(cfg.get_object("slackActionsRegions") or []),
        guardduty_detector_id=cfg.get("guardDutyDetectorId") or "",
        regions=list(cfg.get_object("regions") or []),
        forwarding_organization_id=cfg.get("forwardingOrganizationId") or "",
        forwarding_account_ids=list(cfg.get_object("forwardingAccountIds") or []),
        code_path=cfg.get("codePath") or "../../dist/router-lambda.zip",
        name_prefix=cfg.get("namePrefix") or f"{pulumi.get_project()}-{pulumi.get_stack()}",
        home_region=pulumi.Config("aws").get("region"),
    )


@dataclass
class Forwarder:
    region: str
    rule: aws.cloudwatch.EventRule
    target: aws.cloudwatch.EventTarget
    role: aws.iam.Role
    role_policy: aws.iam.RolePolicy
    dead_letter_queue: aws.sqs.Queue


@dataclass
class Deployment:
    home_region: str
    account_id: str
    partition: str
    function: aws.lambda_.Function
    role: aws.iam.Role
    role_policies: dict[str, aws.iam.RolePolicy]
    rule: aws.cloudwatch.EventRule
    state_table: aws.dynamodb.Table
    secrets: dict[str, aws.secretsmanager.Secret]
    secret_versions: dict[str, aws.secretsmanager.SecretVersion]
    function_url: Optional[aws.lambda_.FunctionUrl]
    detector: Optional[aws.guardduty.Detector]
    forwarders: dict[str, Forwarder]
    outputs: dict[str, Any]


def _policy(*statements: dict[str, Any]) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _assume_role(service: str, account_id: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        }
    )


def build(s: Settings) -> Deployment:
    s.validate()
    prefix = s.name_prefix
    home = s.home_region or aws.get_region().region
    identity = aws.get_caller_identity()
    account = identity.account_id
    partition = aws.get_partition().partition
    function_name = f"{prefix}-router"
    home_bus_arn = f"arn:{partition}:events:{home}:{account}:event-bus/default"

    detector = None
    if s.create_detector:
        detector = aws.guardduty.Detector(
            f"{prefix}-detector", enable=True, finding_publishing_frequency=s.finding_publishing_frequency
        )

    # Where an event goes when its deliveries still failed after Lambda's retries.
    failed_queue = aws.sqs.Queue(
        f"{prefix}-failed-findings", message_retention_seconds=1209600, sqs_managed_sse_enabled=True
    )
    # Events EventBridge itself could not hand to the function.
    undelivered_queue = aws.sqs.Queue(
        f"{prefix}-undelivered-events", message_retention_seconds=1209600, sqs_managed_sse_enabled=True
    )

    # The finding lifecycle's state: key pk, items expire at expires_at (epoch seconds).
    table = aws.dynamodb.Table(
        f"{prefix}-finding-state",
        billing_mode="PAY_PER_REQUEST",
        hash_key="pk",
        attributes=[{"name": "pk", "type": "S"}],
        ttl={"attribute_name": "expires_at", "enabled": True},
        server_side_encryption={"enabled": True},
    )

    log_group = aws.cloudwatch.LogGroup(
        f"{prefix}-router-logs", name=f"/aws/lambda/{function_name}", retention_in_days=s.log_retention_days
    )

    # The Slack secrets: config values go into Secrets Manager; the function gets only the ARNs.
    secrets: dict[str, aws.secretsmanager.Secret] = {}
    versions: dict[str, aws.secretsmanager.SecretVersion] = {}
    secret_refs: dict[str, pulumi.Input[str]] = {}  # env var -> what the function reads (ARN or ARN:key)
    secret_grants: list[pulumi.Input[str]] = []  # the secret ARNs the role may read
    for setting, arn_setting, env_name, secret_name in SLACK_SECRETS:
        value = getattr(s, setting)
        existing = getattr(s, arn_setting)
        if value is not None:
            secret = aws.secretsmanager.Secret(
                f"{prefix}-{secret_name}",
                name_prefix=f"{prefix}/{secret_name}-",
                description=f"guardduty-router: {secret_name.replace('-', ' ')} (read by the router at start-up)",
            )
            versions[setting] = aws.secretsmanager.SecretVersion(
                f"{prefix}-{secret_name}",
                secret_id=secret.id,
                secret_string=pulumi.Output.secret(value),
                opts=pulumi.ResourceOptions(additional_secret_outputs=["secret_string"]),
            )
            secrets[setting] = secret
            secret_refs[env_name] = secret.arn
            secret_grants.append(secret.arn)
        elif existing is not None:
            secret_refs[env_name] = existing
            secret_grants.append(secret_arn_without_key(existing))

    role = aws.iam.Role(
        f"{prefix}-router",
        assume_role_policy=_assume_role("lambda.amazonaws.com", account),
        description="guardduty-router's function",
    )

    # Every statement names its actions and resources ("*" only for actions without a resource type), the same
    # actions as deploy/template.yaml's RouterRole (tests/test_parity.py).
    statements: dict[str, list[dict[str, Any]]] = {
        "logs": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": log_group.arn.apply(lambda arn: f"{arn}:log-stream:*"),
            }
        ],
        "failure-destination": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": failed_queue.arn}],
        "finding-state": [
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": table.arn}
        ],
    }
    if secret_grants:
        statements["slack-secrets"] = [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secret_grants}
        ]
    if s.slack_actions:
        # A click acts in the finding's own region: the home region, the forwarded ones, slackActionsRegions.
        action_regions = list(dict.fromkeys([home, *s.regions, *s.slack_actions_regions]))
        in_those_regions = {"StringEquals": {"aws:RequestedRegion": action_regions}}
        statements["slack-actions"] = [
            {
                "Effect": "Allow",
                # No resource type in the Service Authorization Reference: "*", held to those regions.
                "Action": [
                    "guardduty:ListDetectors",
                    "guardduty:ArchiveFindings",
                    "guardduty:UnarchiveFindings",
                    "guardduty:UpdateFindingsFeedback",
                ],
                "Resource": "*",
                "Condition": in_those_regions,
            },
            {
                "Effect": "Allow",
                "Action": "guardduty:CreateFilter",
                "Resource": [f"arn:{partition}:guardduty:{r}:{account}:detector/*/filter/*" for r in action_regions],
                "Condition": in_those_regions,
            },
        ]
    role_policies = {
        name: aws.iam.RolePolicy(f"{prefix}-router-{name}", role=role.id, name=name, policy=_policy(*stmts))
        for name, stmts in statements.items()
    }

    environment: dict[str, pulumi.Input[str]] = {
        "ROUTER_DATA_DIR": "/tmp/guardduty-router",
        "ROUTER_STATE_TABLE": table.name,
        **secret_refs,
    }
    if s.fallback_channel:
        environment["ROUTER_FALLBACK_CHANNEL"] = s.fallback_channel
    if s.guardduty_detector_id:
        # One detector for every region (detector IDs differ per region): without it, ListDetectors per region.
        environment["ROUTER_GUARDDUTY_DETECTOR_ID"] = s.guardduty_detector_id

    function = aws.lambda_.Function(
        f"{prefix}-router",
        name=function_name,
        description="Routes GuardDuty findings to Slack through Lua rules (guardduty-router).",
        code=pulumi.FileArchive(s.code_path),
        handler="bootstrap",
        runtime="provided.al2023",
        architectures=["x86_64"],
        memory_size=s.memory_size,
        timeout=s.timeout,
        role=role.arn,
        environment={"variables": environment},
        opts=pulumi.ResourceOptions(depends_on=[log_group, *role_policies.values()]),
    )

    aws.lambda_.FunctionEventInvokeConfig(
        f"{prefix}-router",
        function_name=function.name,
        maximum_retry_attempts=s.retry_attempts,
        maximum_event_age_in_seconds=21600,
        destination_config={"on_failure": {"destination": failed_queue.arn}},
    )

    rule = aws.cloudwatch.EventRule(
        f"{prefix}-guardduty-findings",
        name=f"{prefix}-guardduty-findings",
        description="GuardDuty findings to the guardduty-router function.",
        event_pattern=json.dumps(FINDING_PATTERN),
    )
    aws.lambda_.Permission(
        f"{prefix}-guardduty-findings",
        action="lambda:InvokeFunction",
        function=function.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
    )
    aws.cloudwatch.EventTarget(
        f"{prefix}-guardduty-findings",
        rule=rule.name,
        arn=function.arn,
        retry_policy={"maximum_retry_attempts": 185, "maximum_event_age_in_seconds": 86400},
        dead_letter_config={"arn": undelivered_queue.arn},
    )
    aws.sqs.QueuePolicy(
        f"{prefix}-undelivered-events",
        queue_url=undelivered_queue.url,
        policy=_policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": undelivered_queue.arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule.arn}},
            }
        ),
    )

    function_url = None
    if s.slack_actions:
        # Slack POSTs clicks here; AWS does not authenticate them (Slack cannot sign AWS requests): the function
        # verifies Slack's signature. A public URL needs both permissions (lambda:InvokeFunctionUrl, and
        # lambda:InvokeFunction only through the URL).
        function_url = aws.lambda_.FunctionUrl(
            f"{prefix}-slack-actions", function_name=function.name, authorization_type="NONE"
        )
        aws.lambda_.Permission(
            f"{prefix}-slack-actions-url",
            action="lambda:InvokeFunctionUrl",
            function=function.name,
            principal="*",
            function_url_auth_type="NONE",
        )
        aws.lambda_.Permission(
            f"{prefix}-slack-actions-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="*",
            invoked_via_function_url=True,
        )

    # Other accounts' forwarders may put events on the home bus (PutPermission statements, like the template's
    # AWS::Events::EventBusPolicy: the bus's other statements stay).
    if s.forwarding_organization_id:
        aws.cloudwatch.EventPermission(
            f"{prefix}-forwarding-organization",
            event_bus_name="default",
            statement_id=f"{prefix}-forwarding-organization",
            principal="*",
            action="events:PutEvents",
            condition={"key": "aws:PrincipalOrgID", "type": "StringEquals", "value": s.forwarding_organization_id},
        )
    for account_id in s.forwarding_account_ids:
        aws.cloudwatch.EventPermission(
            f"{prefix}-forwarding-{account_id}",
            event_bus_name="default",
            statement_id=f"{prefix}-forwarding-{account_id}",
            principal=account_id,
            action="events:PutEvents",
        )

    # Forwarders: pulumi-aws v7's per-resource `region` puts each one in its region with the one provider.
    forwarders: dict[str, Forwarder] = {}
    for region in dict.fromkeys(s.regions):  # in order, once each
        if region == home:
            pulumi.log.info(f"regions: {region} is the home region; its findings reach the router directly")
            continue
        forwarders[region] = _forwarder(prefix, region, home_bus_arn, account)

    outputs: dict[str, Any] = {
        "functionName": function.name,
        "functionArn": function.arn,
        "findingStateTableName": table.name,
        "failedFindingsQueueUrl": failed_queue.url,
        "undeliveredEventsQueueUrl": undelivered_queue.url,
        "homeEventBusArn": home_bus_arn,
        "slackSecretArns": {env_name: ref for env_name, ref in secret_refs.items()},
        "forwarders": {region: f.rule.arn for region, f in forwarders.items()},
    }
    if function_url is not None:
        outputs["slackInteractivityUrl"] = function_url.function_url
    if detector is not None:
        outputs["detectorId"] = detector.id

    return Deployment(
        home_region=home,
        account_id=account,
        partition=partition,
        function=function,
        role=role,
        role_policies=role_policies,
        rule=rule,
        state_table=table,
        secrets=secrets,
        secret_versions=versions,
        function_url=function_url,
        detector=detector,
        forwarders=forwarders,
        outputs=outputs,
    )


def _forwarder(prefix: str, region: str, home_bus_arn: str, account: str) -> Forwarder:
    """deploy/forwarder.yaml for one region: a rule on the region's default bus targeting the home bus."""
    name = f"{prefix}-forward-{region}"
    role = aws.iam.Role(name, assume_role_policy=_assume_role("events.amazonaws.com", account))
    role_policy = aws.iam.RolePolicy(
        name,
        role=role.id,
        name="put-events-on-the-home-bus",
        policy=_policy({"Effect": "Allow", "Action": "events:PutEvents", "Resource": home_bus_arn}),
    )
    dlq = aws.sqs.Queue(
        f"{name}-undelivered", region=region, message_retention_seconds=1209600, sqs_managed_sse_enabled=True
    )
    rule = aws.cloudwatch.EventRule(
        name,
        region=region,
        name=name,
        description="GuardDuty findings of this region, forwarded to the router's home event bus.",
        event_pattern=json.dumps(FINDING_PATTERN),
    )
    target = aws.cloudwatch.EventTarget(
        name,
        region=region,
        rule=rule.name,
        arn=home_bus_arn,
        role_arn=role.arn,
        retry_policy={"maximum_retry_attempts": 185, "maximum_event_age_in_seconds": 86400},
        dead_letter_config={"arn": dlq.arn},
        opts=pulumi.ResourceOptions(depends_on=[role_policy]),
    )
    aws.sqs.QueuePolicy(
        f"{name}-undelivered",
        region=region,
        queue_url=dlq.url,
        policy=_policy(
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": dlq.arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule.arn}},
            }
        ),
    )
    return Forwarder(region, rule, target, role, role_policy, dlq)
