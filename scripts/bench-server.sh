#!/usr/bin/env bash
# Load test of `router serve` on loopback: sustained POST /events (one real GuardDuty event per request, each with a
# finding id of its own) from wrk, against a release build with the durable queue on local disk and the fake Slack
# behind it. Prints accepted findings/s, latency percentiles (p99 included), the server's peak RSS, and checks that
# nothing was lost: rows in the queue == findings answered 202.
#
# Bounded: DURATION seconds (default 20) of load, CONNECTIONS concurrent connections (default 32), wrk with 2 threads.
# wrk comes from Debian (apt-get install wrk) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/serve.sh
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-32}

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi
swift build -c release --product router >/dev/null
swift build -c release --product router-server >/dev/null
bin=$PWD/.build/release/router
work=$(mktemp -d)
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "${fake_pid:-}" ] && kill "$fake_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

coproc FAKE { python3 Tests/FakeSlack/fake_slack.py --port 0; }
fake_pid=$FAKE_PID
read -r line <&"${FAKE[0]}"
slack_port=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["port"])' "$line")

# One delivery per finding, so the queue's row count must equal the findings accepted.
mkdir -p "$work/rules"
cat > "$work/rules/50-route.lua" <<'LUA'
return { route = function(f)
  if f.severity >= 7 then return { channel = "#sec-high", mention = "here" } end
  return { channel = "#sec", format = "compact" }
end }
LUA

# Realistic bodies: the real GuardDuty events of ../shared/corpus/guardduty/eventbridge (else examples/), each with
# its finding id replaced by a placeholder the load generator fills in.
python3 - "$work/bodies.txt" <<'PY'
import glob, json, os, sys
files = sorted(glob.glob("../shared/corpus/guardduty/eventbridge/*.json")) or sorted(glob.glob("examples/*.json"))
n = 0
with open(sys.argv[1], "w") as out:
    for p in files:
        try:
            e = json.load(open(p))
        except Exception:
            continue
        if not isinstance(e, dict) or e.get("detail-type") != "GuardDuty Finding" or not isinstance(e.get("detail"), dict):
            continue
        e["detail"]["id"] = "__ID__"
        e["detail"].setdefault("updatedAt", "2026-01-01T00:00:00Z")
        out.write(json.dumps(e, separators=(",", ":")) + "\n")
        n += 1
print(f"{n} distinct GuardDuty events from {os.path.dirname(files[0])}", file=sys.stderr)
PY

cat > "$work/load.lua" <<'LUA'
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local token = os.getenv("ROUTER_API_TOKEN")
local counter = 0
local threads = {}
local next_id = 1
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  accepted, other = 0, 0
end
function request()
  counter = counter + 1
  local body = bodies[(counter % #bodies) + 1]:gsub("__ID__", string.format("bench%02d%012d", tid, counter), 1)
  return wrk.format("POST", "/events",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    o = o + t:get("other")
  end
  io.write(string.format("ACCEPTED %d\nOTHER %d\n", a, o))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("P%s_MS %.2f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("MAX_MS %.2f\n", latency.max / 1000))
end
LUA

export ROUTER_API_TOKEN="bench-token-$(date +%s)"
export BODIES="$work/bodies.txt"
SLACK_WEBHOOK_URL="http://127.0.0.1:$slack_port/services/T0FAKE/B0FAKE/benchwebhook" LOG_LEVEL=warning \
  "$bin" serve --rules "$work/rules" --listen 127.0.0.1:0 --data "$work/data" >"$work/out" 2>"$work/err" &
server_pid=$!
port=$(listening_port "$work/out" "$work/err")

echo "== wrk: ${DURATION}s, $CONNECTIONS connections, 2 threads, one finding per POST /events"
timeout $((DURATION + 30)) wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s "$work/load.lua" \
  "http://127.0.0.1:$port" | tee "$work/wrk.txt"
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
accepted=$(awk '/^ACCEPTED/ {print $2}' "$work/wrk.txt")
other=$(awk '/^OTHER/ {print $2}' "$work/wrk.txt")
p99=$(awk '/^P99_MS/ {print $2}' "$work/wrk.txt")
received=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "router_findings_received_total" {print $2}')
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=
rows=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from deliveries").fetchone()[0])' "$work/data/queue.sqlite3")
rate=$(python3 -c "print(f'{$accepted / $DURATION:.0f}')")
echo
echo "accepted findings/s: $rate ($accepted in ${DURATION}s; $other other answers)"
echo "p99 latency: ${p99} ms"
echo "peak RSS: $((rss_kb / 1024)) MiB"
echo "queue rows: $rows; findings answered 202: $accepted; findings the server routed: $received"
# wrk stops with up to one request per connection in flight: those are queued (and counted by the server) but their
# answers are not counted by wrk. Every finding routed must be queued, and every 202 must be among them.
if [ "$rows" != "$received" ] || [ "$rows" -lt "$accepted" ] || [ "$rows" -gt $((accepted + CONNECTIONS)) ] || [ "$other" != 0 ]; then
  echo "LOST OR REFUSED FINDINGS"; grep -v '^$' "$work/err" | tail -20; exit 1
fi
echo "nothing lost ($((rows - accepted)) queued from requests still in flight when wrk stopped)"
