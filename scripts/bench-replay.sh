#!/usr/bin/env bash
# `router replay` over a synthetic GuardDuty S3 export: LINES export lines (default 1,000,000: 100,000 findings with
# about 10 updates each, over 90 days and 20 accounts, 1% sample findings; gzip JSON Lines in the export's layout),
# made once by scripts/gen-export.py from the project's findings and kept in .bench-data/. Prints the wall time, user
# time, peak RSS and events/s of a release build with the shipped rules, and the same with a rule that drops every
# finding (what reading, inflating, parsing and ordering the history cost on their own).
set -euo pipefail
cd "$(dirname "$0")/.."
FINDINGS=${FINDINGS:-100000}
data=.bench-data/export-$FINDINGS
if [ ! -f "$data/.done" ]; then
  rm -rf "$data"
  echo "generating $data ..." >&2
  python3 scripts/gen-export.py "$data" --findings "$FINDINGS" --updates 10.6 >&2
  touch "$data/.done"
fi
log=$(swift build -c release --product router 2>&1) || { echo "$log"; exit 1; }
bin=.build/release/router
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo 'return { filter = function(f) return false, "measuring the reading alone" end }' > "$tmp/10-drop.lua"
files=$(find "$data" -name '*.jsonl.gz' | wc -l)
size=$(du -sh "$data" | cut -f1)
echo "history: $files gzip files, $size"
run() {
  local label=$1 rules=$2
  /usr/bin/time -f "%e %U %M" -o "$tmp/time" "$bin" replay "$rules" "$data" --json >"$tmp/out.json"
  read -r wall user rss <"$tmp/time"
  events=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["events"])' "$tmp/out.json")
  python3 - "$label" "$wall" "$user" "$rss" "$events" <<'PY'
import sys
label, wall, user, rss, events = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"{label:<34} {events:,} events in {wall:.1f} s wall ({user:.1f} s user), {events / wall:,.0f} events/s, peak RSS {rss / 1024:.0f} MB")
PY
}
run "replay, shipped rules" rules
run "replay, a rule that drops all" "$tmp"
