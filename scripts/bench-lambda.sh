#!/usr/bin/env bash
# Start-up and per-invocation cost of the Lambda runtime, against a fake Runtime API and the fake Slack on loopback
# (Tests/FakeLambda/runtime_api.py, Tests/FakeSlack/fake_slack.py). Prints:
#   init      process start -> first GET /runtime/invocation/next (median and range over cold starts)
#   warm      event handed out -> its response POSTed, for a new finding posted to Slack (median, p90)
#   slack     one POST to the fake Slack over a kept-alive connection (median): the Slack latency inside "warm"
#   overhead  warm - posts x slack: the invocation's own work
#   retry     the same events again (already posted: no Slack call)
#   secrets   init again with the webhook URL read from Secrets Manager at start (SLACK_WEBHOOK_URL_SECRET_ARN, one
#             GetSecretValue over SigV4 to PyPI moto_server on loopback); only when .venv/bin/moto_server exists
#             (scripts/test.sh installs it)
# Usage: scripts/bench-lambda.sh [BINARY] (default: the release build; build it with scripts/package-lambda.sh
# or `swift build -c release --static-swift-stdlib`). COLD=N (default 20) cold starts, EVENTS=N (default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-$(swift build -c release --static-swift-stdlib --show-bin-path)/router}"
cold="${COLD:-20}"
events="${EVENTS:-50}"
[ -x "$bin" ] || { echo "bench-lambda: no binary at $bin" >&2; exit 1; }

tmp="$(mktemp -d)"
slack_pid=""
moto_pid=""
cleanup() {
  [ -n "$slack_pid" ] && kill "$slack_pid" 2>/dev/null
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ln -s "$(readlink -f "$bin")" "$tmp/bootstrap"

# The fake Slack exits when its stdin closes: keep a FIFO open for it.
mkfifo "$tmp/slack.in"
python3 Tests/FakeSlack/fake_slack.py --port 0 <"$tmp/slack.in" >"$tmp/slack.out" &
slack_pid=$!
exec 9>"$tmp/slack.in"
for _ in $(seq 100); do [ -s "$tmp/slack.out" ] && break; sleep 0.05; done
port="$(python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['port'])" "$tmp/slack.out")"
webhook="http://127.0.0.1:$port/services/T0BENCH/B0BENCH/benchsecret"

python3 - "$events" >"$tmp/events.jsonl" <<'PY'
import json, sys
e = json.load(open("examples/high-crypto-mining-ec2.json"))
for i in range(int(sys.argv[1])):
    e["detail"]["id"] = "%032x" % (i + 1)
    print(json.dumps(e))
PY
head -n 1 "$tmp/events.jsonl" >"$tmp/one.jsonl"

# Pacing off (ROUTER_SLACK_RATE): Slack's 1 message/s per channel would otherwise be what is measured.
common=(--bootstrap "$tmp/bootstrap" --env "ROUTER_RULES=$PWD/rules" --env "SLACK_WEBHOOK_URL=$webhook"
  --env ROUTER_SLACK_RATE=10000 --env ROUTER_SLACK_BURST=10000)
python3 Tests/FakeLambda/runtime_api.py "${common[@]}" --events "$tmp/one.jsonl" --cold-starts "$cold" \
  --env "ROUTER_DATA_DIR=$tmp/cold" >"$tmp/cold.json"
# Warm: one process, the events twice (the second pass finds them posted already).
cat "$tmp/events.jsonl" "$tmp/events.jsonl" >"$tmp/twice.jsonl"
python3 Tests/FakeLambda/runtime_api.py "${common[@]}" --events "$tmp/twice.jsonl" --env "ROUTER_DATA_DIR=$tmp/warm" >"$tmp/warm.json"

python3 - "$tmp/cold.json" "$tmp/warm.json" "$webhook" "$events" <<'PY'
import http.client, json, statistics, sys, time
cold, warm, webhook, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4])
inits = [x for x in cold["init_ms"] if x is not None]
inv = warm["invocations"]
bad = [i for i in inv if i["kind"] != "response"]
if len(inits) != len(cold["init_ms"]) or bad or len(inv) != 2 * n:
    print("bench-lambda: runs failed:", json.dumps({"init": cold["init_ms"], "bad": bad[:3], "log": warm["log"][-5:]}))
    sys.exit(1)
first = sorted(i["ms"] for i in inv[1:n])   # the first event pays connection set-up: left out
again = sorted(i["ms"] for i in inv[n:])
per_event = json.loads(inv[0]["body"])["delivered"]
body = json.dumps({"text": "bench"}).encode()
host, rest = webhook.split("//", 1)[1].split("/", 1)
conn = http.client.HTTPConnection(host)  # kept alive, as the router's libcurl client is
lat = []
for _ in range(100):
    t = time.perf_counter()
    conn.request("POST", "/" + rest, body=body, headers={"Content-Type": "application/json"})
    conn.getresponse().read()
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
p90 = lambda xs: xs[min(len(xs) - 1, int(len(xs) * 0.9))]
med = statistics.median
print(f"init      median {med(inits):.1f} ms (min {min(inits):.1f}, max {max(inits):.1f}) over {len(inits)} cold starts")
print(f"warm      median {med(first):.2f} ms, p90 {p90(first):.2f} ms per new finding ({len(first)} events, {per_event} Slack posts each with the repo's rules)")
print(f"slack     median {med(lat):.2f} ms per POST to the fake Slack (kept-alive connection)")
print(f"overhead  median {med(first) - per_event * med(lat):.2f} ms per invocation (warm - {per_event} x slack)")
print(f"retry     median {med(again):.2f} ms per already-posted event (no Slack call)")
PY

# Init with the Slack secret read from Secrets Manager (moto_server on loopback) instead of the environment.
if [ -x .venv/bin/moto_server ]; then
  mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  .venv/bin/moto_server -H 127.0.0.1 -p "$mport" >"$tmp/moto.log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 200); do python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$mport/moto-api/')" 2>/dev/null && break; sleep 0.05; done
  arn=$(.venv/bin/python - "$mport" "$webhook" <<'PY'
import json, sys, urllib.request
import botocore.session
s = botocore.session.get_session()
c = s.create_client("secretsmanager", region_name="eu-west-1", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}",
                    aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench-secret")
print(c.create_secret(Name="guardduty-router/slack-webhook", SecretString=sys.argv[2])["ARN"])
PY
)
  python3 Tests/FakeLambda/runtime_api.py --bootstrap "$tmp/bootstrap" --env "ROUTER_RULES=$PWD/rules" \
    --env "SLACK_WEBHOOK_URL_SECRET_ARN=$arn" --env "ROUTER_SECRETSMANAGER_ENDPOINT=http://127.0.0.1:$mport" \
    --env AWS_REGION=eu-west-1 --env AWS_ACCESS_KEY_ID=AKIDBENCH --env AWS_SECRET_ACCESS_KEY=bench-secret \
    --env AWS_SESSION_TOKEN=bench-token --env ROUTER_SLACK_RATE=10000 --env ROUTER_SLACK_BURST=10000 \
    --events "$tmp/one.jsonl" --cold-starts "$cold" --env "ROUTER_DATA_DIR=$tmp/cold-secret" >"$tmp/cold-secret.json"
  python3 - "$tmp/cold-secret.json" <<'PY'
import json, statistics, sys
cold = json.load(open(sys.argv[1]))
inits = [x for x in cold["init_ms"] if x is not None]
if len(inits) != len(cold["init_ms"]) or not inits:
    print("bench-lambda: cold starts with the secret failed:", json.dumps(cold)[:2000])
    sys.exit(1)
print(f"secrets   median {statistics.median(inits):.1f} ms init (min {min(inits):.1f}, max {max(inits):.1f}) over {len(inits)} cold starts, the webhook URL read from Secrets Manager (moto_server on loopback)")
PY
else
  echo "secrets   skipped: .venv/bin/moto_server is missing (scripts/test.sh installs it)"
fi
