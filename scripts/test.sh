#!/usr/bin/env bash
# The whole test suite: system packages (and headless Chromium), a Python virtual environment with the independent Slack Block Kit
# validator (PyPI slack-sdk), the CloudFormation linter (cfn-lint), an independent SNS signer (moto[server]), one
# with the Lambda emulator (PyPI ministack), the Lambda package, then every Swift test (unit, sandbox, binary, Lambda
# end to end and, when ../shared/corpus exists, the corpus checks), then the tests of the C-heavy targets (JSON,
# finding, rules, Slack) once more under AddressSanitizer and UndefinedBehaviorSanitizer, then every fuzz target for
# ROUTER_FUZZ_SECONDS (default 20) each (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# Headless Chromium from Debian: the replay report's HTML page is loaded in a real browser (ReplayTests).
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

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

# PyPI ministack (an independent Lambda emulator; it pins botocore, hence its own venv) for the Lambda end-to-end tests.
if [ ! -x .venv-ministack/bin/python ] || ! .venv-ministack/bin/python -c 'import ministack, boto3' >/dev/null 2>&1; then
  rm -rf .venv-ministack
  python3 -m venv .venv-ministack
  .venv-ministack/bin/pip install --quiet --disable-pip-version-check 'ministack==1.5.33' boto3
fi
export ROUTER_TEST_MINISTACK_PYTHON="$PWD/.venv-ministack/bin/python"
scripts/test-deploy.sh

# The Lambda package (release build: several minutes the first time); the tests check and run dist/router-lambda.zip.
scripts/package-lambda.sh

swift build --build-tests
swift test --skip-build --disable-swift-testing

# The C-heavy targets' tests under AddressSanitizer and UndefinedBehaviorSanitizer for C, in a build of their own.
# LeakSanitizer is off for this XCTest process: XCTest and Foundation never free their own objects at exit, and every
# allocation's stack passes through them; leaks in the project's C are found by the fuzz targets below (libFuzzer
# checks every input for leaks) and the JSON target's allocation count.
export ASAN_OPTIONS=detect_leaks=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
sanitize=(--sanitize=address -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined --scratch-path .build-asan)
swift build --build-tests "${sanitize[@]}"
swift test --skip-build --disable-swift-testing "${sanitize[@]}" \
  --filter 'RouterJSONTests|RouterFindingTests|RouterRulesTests|RouterSlackTests'

# Every fuzz target for a short, bounded time, so they keep compiling and clean (scripts/fuzz.sh for longer runs).
unset ASAN_OPTIONS
scripts/fuzz.sh "${ROUTER_FUZZ_SECONDS:-20}"
