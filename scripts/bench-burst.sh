#!/usr/bin/env bash
# Burst figure (issue 5): N findings (default 1,000; 1% CRITICAL) routed to ONE channel, against the fake Slack
# enforcing Slack's 1 message/s per channel (burst 3). Prints how long until every finding reached Slack (posted alone
# or listed in a digest), how many messages that took, and checks that every finding is accounted for and that no
# CRITICAL finding was digested. Aim: all of 1,000 within 2 minutes.
#   ./scripts/bench-burst.sh            N=1000
#   N=300 ./scripts/bench-burst.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
. scripts/lib/fake-slack.sh

mkdir -p "$work/rules"
cat > "$work/rules/50-one-channel.lua" <<'LUA'
return { route = function(f)
  if f.severity_label == "CRITICAL" then return { channel = "#burst", mention = "here" } end
  return { channel = "#burst" }
end }
LUA
python3 - "$work/events.jsonl" "$N" <<'PY'
import json, sys
base = json.load(open("examples/high-crypto-mining-ec2.json"))
types = ["CryptoCurrency:EC2/BitcoinTool.B!DNS", "Recon:EC2/PortProbeUnprotectedPort", "UnauthorizedAccess:EC2/SSHBruteForce",
         "Discovery:S3/AnomalousBehavior", "Policy:IAMUser/RootCredentialUsage"]
n = int(sys.argv[2])
with open(sys.argv[1], "w") as out:
    for i in range(n):
        e = json.loads(json.dumps(base))
        d = e["detail"]
        d["id"] = "burst%027d" % i
        d["type"] = types[i % len(types)]
        d["accountId"] = "1111222233%02d" % (i % 7)
        d["severity"] = 9.5 if i % 100 == 42 else [2, 5, 8][i % 3]
        d["resource"]["instanceDetails"]["instanceId"] = "i-%017x" % (i % 40)
        out.write(json.dumps(e) + "\n")
PY
echo "== $N findings to one channel at 1 message/s (burst 3), digest window 30 s (the default)"
start=$(date +%s.%N)
SLACK_BOT_TOKEN=xoxb-fake-token SLACK_API_URL="http://127.0.0.1:$port/api" \
  "$bin" send "$work/rules" "$work/events.jsonl" --data "$work/data" 2>&1 | tail -1
end=$(date +%s.%N)
python3 - "$start" "$end" "$port" "$N" <<'PY'
import json, re, sys, urllib.request
start, end, port, n = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/_control/stats"))
msgs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/_control/messages"))["messages"]
digests, alone, listed, critical_alone = 0, 0, 0, 0
for m in msgs:
    t = m.get("text", "")
    g = re.search(r"GuardDuty digest: (\d+) finding", t)
    if g:
        digests += 1
        listed += int(g.group(1))
        assert "*CRITICAL*" not in json.dumps(m.get("blocks", [])), "a CRITICAL finding was digested"
    else:
        alone += 1
        critical_alone += "CRITICAL" in t
print(f"  all {n} findings in Slack after {end - start:.1f} s (aim: 120 s): {len(msgs)} messages = {alone} posted alone "
      f"({critical_alone} CRITICAL) + {digests} digests listing {listed}; Slack answered {stats['rate_limited']} x 429")
ok = alone + listed == n
print("  every finding accounted for: " + ("yes" if ok else f"NO ({alone + listed} of {n})"))
sys.exit(0 if ok else 1)
PY
