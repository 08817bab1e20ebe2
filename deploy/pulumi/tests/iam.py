"""Least privilege, checked statement by statement against the Service Authorization Reference.

RESOURCE_TYPES lists, for every action a guardduty-router stack may grant, the ARN formats of the resource types the
action can be scoped to, from the Service Authorization Reference in its machine-readable form
(https://servicereference.us-east-1.amazonaws.com/, the data cfn-lint ships as
cfnlint/data/AdditionalSpecs/Policies.json; test_iam_reference_matches_the_service_reference compares the two when
cfn-lint is installed). An empty tuple means the action has no resource type: only Resource "*" grants it.
"""

from __future__ import annotations

import re
from typing import Any

P, R, A = r"aws[a-z-]*", r"[a-z0-9-]+", r"[0-9]{12}"

# action -> (service-reference resource type names, ARN patterns of those types)
RESOURCE_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "logs:CreateLogStream": (("log-stream",), (rf"arn:{P}:logs:{R}:{A}:log-group:[^:*]+:log-stream:.+",)),
    "logs:PutLogEvents": (("log-stream",), (rf"arn:{P}:logs:{R}:{A}:log-group:[^:*]+:log-stream:.+",)),
    "sqs:SendMessage": (("queue",), (rf"arn:{P}:sqs:{R}:{A}:[A-Za-z0-9_-]+",)),
    "dynamodb:GetItem": (("table",), (rf"arn:{P}:dynamodb:{R}:{A}:table/[A-Za-z0-9_.-]+",)),
    "dynamodb:PutItem": (("table",), (rf"arn:{P}:dynamodb:{R}:{A}:table/[A-Za-z0-9_.-]+",)),
    "secretsmanager:GetSecretValue": (("Secret",), (rf"arn:{P}:secretsmanager:{R}:{A}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{{6}}",)),
    "events:PutEvents": (("event-bus", "event-busv2"), (rf"arn:{P}:events:{R}:{A}:event-bus/[A-Za-z0-9._/-]+",)),
    "guardduty:ListDetectors": ((), ()),
    "guardduty:ArchiveFindings": ((), ()),
    "guardduty:UnarchiveFindings": ((), ()),
    "guardduty:UpdateFindingsFeedback": ((), ()),
    "guardduty:CreateFilter": (("filter",), (rf"arn:{P}:guardduty:{R}:{A}:detector/[^/]+/filter/.+",)),
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def least_privilege_problems(document: dict[str, Any]) -> list[str]:
    """Why a policy document is not least privilege: [] when every statement allows named actions on named resources
    of their resource types, with "*" only for actions that have no resource type."""
    problems = []
    for i, st in enumerate(document.get("Statement", [])):
        where = f"statement {i} ({st.get('Sid', '')})"
        if st.get("Effect") != "Allow":
            problems.append(f"{where}: Effect {st.get('Effect')!r}")
        for key in ("NotAction", "NotResource", "NotPrincipal"):
            if key in st:
                problems.append(f"{where}: {key}")
        actions = as_list(st.get("Action", []))
        resources = as_list(st.get("Resource", []))
        if not actions or not resources:
            problems.append(f"{where}: no Action or no Resource")
        for action in actions:
            if not isinstance(action, str) or "*" in action or "?" in action:
                problems.append(f"{where}: action {action!r} is not one named action")
            elif action not in RESOURCE_TYPES:
                problems.append(f"{where}: action {action} is not in the reference table (tests/iam.py)")
        for resource in resources:
            if not isinstance(resource, str):
                problems.append(f"{where}: resource {resource!r} is not a string")
                continue
            for action in actions:
                types, patterns = RESOURCE_TYPES.get(action, ((), ()))
                if resource == "*":
                    if types:
                        problems.append(f"{where}: {action} has resource types {types} but is granted on '*'")
                elif not types:
                    problems.append(f"{where}: {action} has no resource type; {resource} does not grant it")
                else:
                    fields = resource.split(":")
                    if len(fields) > 3 and fields[3] == "*":
                        # Any region only when a condition names the regions.
                        if "aws:RequestedRegion" not in st.get("Condition", {}).get("StringEquals", {}):
                            problems.append(f"{where}: {resource} in any region without aws:RequestedRegion")
                        resource = ":".join(fields[:3] + ["us-east-1"] + fields[4:])
                    if not any(re.fullmatch(p, resource) for p in patterns):
                        problems.append(f"{where}: {resource} is not a {'/'.join(types)} ARN ({action})")
    return problems


def actions_of(document: dict[str, Any]) -> set[str]:
    return {a for st in document.get("Statement", []) for a in as_list(st.get("Action", []))}
