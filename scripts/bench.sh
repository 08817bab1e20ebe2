#!/usr/bin/env bash
# The speed figures in the README: a release build, then
#  1. `router bench` with the shipped rules over the 130 corpus events repeated to 13,000 (or, without
#     ../shared/corpus, over the project's own fixtures repeated to 13,000), and
#  2. the same work in Node.js (scripts/bench-node.js), when node is installed, and in plain Lua 5.4 with lua-cjson
#     (scripts/bench-lua.lua; lua5.4 and lua-cjson come from Debian when missing), to compare machines: the issue
#     quotes both for its machine (Node.js about 39,000 events/s, plain Lua with lua-cjson 15,000), and
#  3. the wall time of `router test rules/ one-event.json` (hyperfine when installed, else 50 timed runs).
set -euo pipefail
cd "$(dirname "$0")/.."

swift build -c release --product router >/dev/null
bin=.build/release/router
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

corpus=../shared/corpus/guardduty/eventbridge
if [ -d "$corpus" ]; then src=("$corpus"/*.json); else src=(Tests/Fixtures/findings/*.json); fi
python3 - "$work/once.jsonl" "${src[@]}" <<'PY'
import json, sys
with open(sys.argv[1], "w") as out:
    for path in sys.argv[2:]:
        with open(path) as f:
            out.write(json.dumps(json.load(f), separators=(",", ":")) + "\n")
PY
n=$(wc -l < "$work/once.jsonl")
reps=$(( (13000 + n - 1) / n ))
for _ in $(seq "$reps"); do cat "$work/once.jsonl"; done | awk "NR <= 13000" > "$work/events.jsonl"  # awk reads all: no SIGPIPE

echo "== router bench rules (${#src[@]} distinct events repeated to 13,000)"
"$bin" bench rules "$work/events.jsonl"

if command -v node >/dev/null 2>&1; then
  echo
  echo "== for comparison: scripts/bench-node.js (the same work in Node.js) over the same events"
  node scripts/bench-node.js "$work/events.jsonl"
fi

echo
echo "== for comparison: scripts/bench-lua.lua (the shipped rules in plain Lua 5.4 with lua-cjson) over the same events"
if ! command -v lua5.4 >/dev/null 2>&1 || ! dpkg-query -W -f='${Status}' lua-cjson 2>/dev/null | grep -q "install ok installed"; then
  sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      lua5.4 lua-cjson; } >/dev/null 2>&1 || { echo "bench.sh: could not install lua5.4 and lua-cjson with apt-get" >&2; exit 1; }
fi
lua5.4 scripts/bench-lua.lua rules "$work/events.jsonl"

one=examples/high-crypto-mining-ec2.json
echo
echo "== router test rules $one (wall time, process start to exit)"
if command -v hyperfine >/dev/null 2>&1; then
  hyperfine -N --warmup 10 --runs 200 "$bin test rules $one" 2>/dev/null | sed -n '2,3p'
else
  python3 - "$bin" "$one" <<'PY'
import subprocess, sys, time
runs = []
for _ in range(50):
    t = time.perf_counter()
    subprocess.run([sys.argv[1], "test", "rules", sys.argv[2]], stdout=subprocess.DEVNULL, check=True)
    runs.append((time.perf_counter() - t) * 1000)
runs.sort()
print(f"  median {runs[len(runs)//2]:.1f} ms, min {runs[0]:.1f} ms, max {runs[-1]:.1f} ms over {len(runs)} runs")
PY
fi
