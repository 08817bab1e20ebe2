#!/usr/bin/env bash
# The deploy side's tests, offline once the packages are installed (no Pulumi CLI, no provider plugin, no AWS
# credentials, no network):
#   1. cfn-lint on deploy/template.yaml (SAM) and deploy/forwarder.yaml (plain CloudFormation, for StackSets);
#   2. the Pulumi program's unit tests under Pulumi's mocks (deploy/pulumi/tests): the rule pattern, the function's
#      settings and environment, least-privilege IAM, secrets, the state table, the forwarders, the policy pack, and
#      the parity of the Pulumi program with the SAM template.
# The PyPI packages live in their own virtual environment, .venv-deploy, (re)installed only when it is missing or its
# requirements changed. cfn-lint comes from the main .venv when scripts/test.sh made it, else from .venv-deploy.
# Prints one summary line; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-deploy
req=deploy/pulumi/requirements-test.txt
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

cfn_lint=""
if [ -x .venv/bin/cfn-lint ]; then
  cfn_lint="$PWD/.venv/bin/cfn-lint"
fi

# What the venv must hold: the requirements files' contents (and cfn-lint when the main .venv has none).
want="$(cat "$req" deploy/pulumi/requirements.txt; [ -n "$cfn_lint" ] || echo 'cfn-lint>=1,<2')"
stamp="$venv/.deploy-requirements"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] \
  || ! "$venv/bin/python" -c 'import pulumi, pulumi_aws, pulumi_policy, yaml, pytest' >/dev/null 2>&1 \
  || { [ -z "$cfn_lint" ] && [ ! -x "$venv/bin/cfn-lint" ]; }; then
  echo "test-deploy: installing the deploy test packages into $venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet -r "$req"
  [ -n "$cfn_lint" ] || "$venv/bin/python" -m pip install --quiet 'cfn-lint>=1,<2'
  printf '%s' "$want" >"$stamp"
fi
[ -n "$cfn_lint" ] || cfn_lint="$PWD/$venv/bin/cfn-lint"

status=0

# 1. cfn-lint, both templates.
lint_result="cfn-lint ok"
if ! "$cfn_lint" --format parseable deploy/template.yaml deploy/forwarder.yaml; then
  lint_result="cfn-lint FAILED"
  status=1
fi

# 2. The Pulumi unit tests (mocks only; the Pulumi CLI and the AWS provider plugin are never started).
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
set +e
DEPLOY_TEST_CFN_LINT="$cfn_lint" PULUMI_SKIP_UPDATE_CHECK=1 \
  AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= AWS_SESSION_TOKEN= AWS_PROFILE= \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider -c deploy/pulumi/pytest.ini --rootdir deploy/pulumi \
  deploy/pulumi/tests 2>&1 | tee "$log"
pytest_status=${PIPESTATUS[0]}
set -e
end=$(date +%s.%N)
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
[ "$pytest_status" -eq 0 ] || status=1

# pytest's closing line, e.g. "3 failed, 40 passed, 1 error in 5.2s".
closing=$(grep -E '[0-9]+ (passed|failed|errors?)' "$log" | tail -1 || true)
count() { echo "$closing" | awk -v re="$1" '{ for (i = 2; i <= NF; i++) if ($i ~ re) s += $(i - 1) } END { print s + 0 }'; }
passed=$(count '^passed')
failed=$(count '^(failed|errors?)')
if [ "$pytest_status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi

echo "test-deploy: $lint_result (deploy/template.yaml, deploy/forwarder.yaml); Pulumi tests took ${seconds}s"
echo "test-deploy: $passed passed, $failed failed"
exit "$status"
