#!/usr/bin/env bash
# How long each hostile rule in Tests/Fixtures/hostile/ takes to end, and how: every file there is a route that does
# one category of expensive work (one C call that runs for seconds, or a cheap-looking loop around one), run alone
# through `router test` with the default limits (250 ms, 10,000,000 instructions, 64 MiB) on one example finding.
# Prints per file the rule error `router test` reported and the wall time of the whole process less that of a trivial
# rule (process start, loading, rendering): the time the evaluation took to end.
#
#   scripts/bench-limits.sh [ROUTER_BINARY] [TIMEOUT_SECONDS]
#
# ROUTER_BINARY defaults to .build/release/router (built when missing); runs longer than TIMEOUT_SECONDS (default
# 60) are stopped and shown as such.
set -euo pipefail
cd "$(dirname "$0")/.."
router=${1:-.build/release/router}
limit=${2:-60}
if [ ! -x "$router" ]; then
  swift build -c release --product router >&2
fi
event=examples/high-crypto-mining-ec2.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ns() { date +%s%N; }

# Wall time of one run in ms, and its first rule error, as "ms<TAB>message".
run() {
  local dir=$1 start end out rc=0
  start=$(now_ns)
  out=$(timeout "$limit" "$router" test "$dir" "$event" --json 2>/dev/null) || rc=$?
  end=$(now_ns)
  local ms=$(( (end - start) / 1000000 ))
  if [ "$rc" = 124 ]; then
    printf '%s\t%s\n' "$ms" "still running after ${limit} s (stopped)"
    return
  fi
  local msg
  msg=$(printf '%s' "$out" | python3 -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if not line: continue
    r = json.loads(line)
    errs = r.get("errors") or []
    if errs:
        e = errs[0]
        print("%s:%s: %s" % (e["file"].split("/")[-1], e["line"], e["message"])); break
    print("no rule error (routed: %s)" % ", ".join(d["channel"] for d in r.get("deliveries", []))); break
' 2>/dev/null || echo "exit $rc")
  printf '%s\t%s\n' "$ms" "$msg"
}

mkdir -p "$work/trivial"
printf 'return { route = function(f) return { channel = "#x" } end }\n' > "$work/trivial/50-x.lua"
base=()
for i in 1 2 3 4 5; do base+=("$(run "$work/trivial" | cut -f1)"); done
baseline=$(printf '%s\n' "${base[@]}" | sort -n | sed -n 3p)
printf 'trivial rule: %s ms per process (median of 5); the figures below subtract it\n\n' "$baseline"
printf '%-32s %10s  %s\n' "hostile rule" "ends after" "how"
for f in Tests/Fixtures/hostile/*.lua; do
  name=$(basename "$f" .lua)
  mkdir -p "$work/$name"
  cp "$f" "$work/$name/50-x.lua"
  IFS=$'\t' read -r ms msg < <(run "$work/$name")
  printf '%-32s %7d ms  %s\n' "$name" "$(( ms - baseline ))" "$msg"
done
