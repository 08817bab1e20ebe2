#!/usr/bin/env bash
# The whole test suite: system packages, a Python virtual environment with the independent Slack Block Kit
# validator (PyPI slack-sdk) and an independent SNS signer (PyPI moto[server]), then every Swift test (unit,
# sandbox, binary and, when ../shared/corpus exists, the corpus checks).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import slack_sdk' >/dev/null 2>&1 || [ ! -x .venv/bin/moto_server ]; then
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check slack-sdk 'moto[server]'
fi
export ROUTER_TEST_PYTHON="$PWD/.venv/bin/python"
export ROUTER_TEST_MOTO_SERVER="$PWD/.venv/bin/moto_server"

swift build --build-tests
swift test --skip-build --disable-swift-testing
