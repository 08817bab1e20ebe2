#!/usr/bin/env bash
# Delivery figures: (1) 20 channels x 10 deliveries against the fake Slack, which enforces Slack's 1 message/s per
# channel (burst 3): drain time and any 429; (2) enqueue throughput into the durable queue.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/fake-slack.sh

mkdir -p "$work/rules"
cat > "$work/rules/50-fanout.lua" <<'LUA'
return { route = function(f)
  local d = {}
  for i = 1, 20 do d[i] = { channel = string.format("#bench-%02d", i), format = "compact" } end
  return d
end }
LUA
python3 - "$work/events.jsonl" <<'PY'
import json, sys
base = json.load(open("examples/high-crypto-mining-ec2.json"))
with open(sys.argv[1], "w") as out:
    for i in range(10):
        e = json.loads(json.dumps(base))
        e["detail"]["id"] = "%032x" % (i + 1)
        out.write(json.dumps(e) + "\n")
PY
echo "== 20 channels x 10 deliveries at 1 message/s per channel (burst 3), against the fake Slack"
start=$(date +%s.%N)
SLACK_BOT_TOKEN=xoxb-fake-token SLACK_API_URL="http://127.0.0.1:$port/api" \
  "$bin" send "$work/rules" "$work/events.jsonl" --data "$work/data" --rate 1 --burst 3
end=$(date +%s.%N)
python3 - "$start" "$end" "$port" <<'PY'
import json, sys, urllib.request
start, end, port = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/_control/stats"))
print(f"  drained in {end - start:.1f} s; Slack saw {stats['total']} requests, {stats['ok']} ok, "
      f"{stats['rate_limited']} answered 429 (router pacing), {len(stats['by_channel'])} channels")
PY

echo
echo "== enqueue throughput into the durable queue (SQLite WAL, synchronous=FULL)"
"$bin" bench-queue --data "$work/queue" --count 20000 --batch 100
"$bin" bench-queue --data "$work/queue1" --count 500 --batch 1
