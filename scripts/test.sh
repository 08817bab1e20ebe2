#!/usr/bin/env bash
# The whole test suite: system packages, a Python virtual environment with the independent Slack Block Kit
# validator (PyPI slack-sdk), one with the Lambda emulator (PyPI ministack), the Lambda package, then every Swift test (unit, sandbox, binary and, when ../shared/corpus exists,
# the corpus checks).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import slack_sdk' >/dev/null 2>&1; then
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check slack-sdk
fi
export ROUTER_TEST_PYTHON="$PWD/.venv/bin/python"

# PyPI ministack (an independent Lambda emulator; it pins botocore, hence its own venv) for the Lambda end-to-end tests.
if [ ! -x .venv-ministack/bin/python ] || ! .venv-ministack/bin/python -c 'import ministack, boto3' >/dev/null 2>&1; then
  rm -rf .venv-ministack
  python3 -m venv .venv-ministack
  .venv-ministack/bin/pip install --quiet --disable-pip-version-check 'ministack==1.5.33' boto3
fi
export ROUTER_TEST_MINISTACK_PYTHON="$PWD/.venv-ministack/bin/python"

# The Lambda package (release build: several minutes the first time); the tests check and run dist/router-lambda.zip.
scripts/package-lambda.sh

swift build --build-tests
swift test --skip-build --disable-swift-testing
