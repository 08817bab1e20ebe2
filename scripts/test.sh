#!/usr/bin/env bash
# The whole test suite: system packages, a Python virtual environment with the independent Slack Block Kit
# validator (PyPI slack-sdk), the CloudFormation linter (cfn-lint) and an independent SNS signer (moto[server]),
# then every Swift test (unit, sandbox, binary and, when ../shared/corpus exists, the corpus checks).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# PyPI test tools: slack-sdk (independent Block Kit validator and Slack client), cfn-lint (the deploy template),
# moto[server] (really signed SNS notifications).
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import slack_sdk' >/dev/null 2>&1 \
  || [ ! -x .venv/bin/cfn-lint ] || [ ! -x .venv/bin/moto_server ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check slack-sdk cfn-lint 'moto[server]'
fi
export ROUTER_TEST_PYTHON="$PWD/.venv/bin/python"
export ROUTER_TEST_CFN_LINT="$PWD/.venv/bin/cfn-lint"
export ROUTER_TEST_MOTO_SERVER="$PWD/.venv/bin/moto_server"

swift build --build-tests
swift test --skip-build --disable-swift-testing
