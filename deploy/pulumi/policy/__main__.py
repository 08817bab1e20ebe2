"""The guardduty-router policy pack: `pulumi preview --policy-pack deploy/pulumi/policy` (see ../README.md)."""

from pulumi_policy import PolicyPack

import slack_policies

PolicyPack(name="guardduty-router", policies=slack_policies.POLICIES)
