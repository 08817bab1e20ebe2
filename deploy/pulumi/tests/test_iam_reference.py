"""tests/iam.py's table of resource types against the Service Authorization Reference data cfn-lint ships
(cfnlint/data/AdditionalSpecs/Policies.json, generated from https://servicereference.us-east-1.amazonaws.com/).
scripts/test-deploy.sh passes the cfn-lint it uses in DEPLOY_TEST_CFN_LINT; without it this test is skipped."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import iam


def _policies_json() -> dict:
    linter = os.environ.get("DEPLOY_TEST_CFN_LINT")
    if not linter or not os.access(linter, os.X_OK):
        pytest.skip("DEPLOY_TEST_CFN_LINT not set (scripts/test-deploy.sh sets it)")
    python = os.path.join(os.path.dirname(linter), "python")
    path = subprocess.run(
        [python, "-c", "import cfnlint.data.AdditionalSpecs as s, os; "
                       "print(os.path.join(os.path.dirname(s.__file__), 'Policies.json'))"],
        check=True, capture_output=True, text=True).stdout.strip()
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_iam_reference_matches_the_service_reference():
    reference = _policies_json()
    for action, (types, patterns) in iam.RESOURCE_TYPES.items():
        service, name = action.split(":")
        actions = {k.lower(): v for k, v in reference[service]["Actions"].items()}
        assert name.lower() in actions, action
        expected = {t.lower() for t in actions[name.lower()].get("Resources", [])}
        assert {t.lower() for t in types} == expected, action
        assert bool(patterns) == bool(types), action
