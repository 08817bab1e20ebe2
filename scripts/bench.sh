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
"$bin" bench rules "$work/events.jsonl" | tee "$work/bench.txt"

# Bulk dry runs: the whole `router test --json` process (JSON lines to a file) against the engine loop plus reading
# the file (both from the bench above), and against Node.js doing the same per-event work and writing the same lines.
echo
echo "== router test rules EVENTS --json, the whole process (median of 5 runs), against the loop above and Node.js"
python3 - "$bin" "$work/events.jsonl" "$work/bench.txt" <<'PY'
import re, shutil, statistics, subprocess, sys, time
bin, events, bench = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
loop = float(re.search(r"\(([\d.]+) s in the measured loop", bench).group(1))
read = float(re.search(r"reading the file once: ([\d.]+) s", bench).group(1))
def timed(cmd):
    runs = []
    for _ in range(5):
        with open("/dev/null", "wb") as sink:
            t = time.perf_counter()
            subprocess.run(cmd, stdout=sink, check=True)
            runs.append(time.perf_counter() - t)
    return statistics.median(runs)
router = timed([bin, "test", "rules", events, "--json", "--now", "2026-01-02T03:04:05Z"])
print(f"  router test --json: {router:.3f} s; engine loop {loop:.3f} s + reading {read:.3f} s = {loop + read:.3f} s: {router / (loop + read):.2f}x (aim: at most 1.5x)")
if shutil.which("node"):
    node = timed(["node", "scripts/bench-node.js", "--json-lines", events])
    print(f"  node scripts/bench-node.js --json-lines (the same lines from JS): {node:.3f} s: router is {node / router:.2f}x faster (aim: at least 2x)")
PY

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
