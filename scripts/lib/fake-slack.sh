# Sourced by the delivery benchmarks: builds the release router and starts the fake Slack on loopback with Slack's
# pacing enforced (1 message/s per channel, burst 3). Sets bin, work (a temporary directory), fake_pid and port;
# cleans up on exit.
swift build -c release --product router >/dev/null
bin=$PWD/.build/release/router
work=$(mktemp -d)
cleanup() { [ -n "${fake_pid:-}" ] && kill "$fake_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

coproc FAKE { python3 Tests/FakeSlack/fake_slack.py --port 0; }
fake_pid=$FAKE_PID
read -r line <&"${FAKE[0]}"
port=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["port"])' "$line")
curl -s -XPOST "http://127.0.0.1:$port/_control/config" -d '{"rate_limit":{"per_second":1,"burst":3},"fail_on_rate_limit":true}' >/dev/null
