#!/usr/bin/env bash
# Fuzzes the code that parses untrusted input, with the Swift toolchain's own clang and libFuzzer, under
# AddressSanitizer and UndefinedBehaviorSanitizer:
#
#   json-tape     the JSON tape parser, bytes -> tape (fuzz/json_tape.c)
#   lua-json      json.decode / json.encode round trips and slack.escape inside a sandboxed rule state (fuzz/lua_json.c)
#   pattern       the sandbox's pattern matcher against Lua's own, differentially (fuzz/pattern.c)
#   input-reader  the input reader as a whole, bytes -> items, every wrapper shape (fuzz/input-reader, Swift)
#   slack-text    Slack escaping, sanitizing and truncation (fuzz/slack-text, Swift)
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Runs every target (or the ones named) for SECONDS each (default 60) and prints executions per second and in all.
# Seeds: fuzz/corpus/, the project's fixtures and examples, and ../shared/corpus when it exists; what a run adds is
# kept under .build-fuzz/corpus (not committed). Exits 1 when any target finds a crash, a sanitizer report or a broken
# property: the input is copied to fuzz/found/TARGET/ (not committed; later runs use it as a seed). Once the problem
# is fixed, write it as a named test in Tests/RouterRulesTests/FuzzRegressionTests.swift (the input reduced, and what
# it found), so the ordinary suite keeps it fixed; raw crash-* artifacts are never committed (a test checks).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
all=(json-tape lua-json pattern input-reader slack-text)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

out=.build-fuzz
bin=$out/bin
mkdir -p "$bin"
toolchain=$(dirname "$(readlink -f "$(command -v swift)")")
clang=$toolchain/clang
[ -x "$clang" ] || { echo "fuzz.sh: no clang beside swift ($clang)" >&2; exit 2; }

want() { local t; for t in "${targets[@]}"; do [ "$t" = "$1" ] && return 0; done; return 1; }

# C targets: the project's C sources compiled into the fuzzer with every sanitizer.
cflags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
        -I Sources/CRouterJSON/include -I Sources/CRouterLua/include -I Sources/CRouterLua $(pkg-config --cflags lua5.4))
lua=(Sources/CRouterLua/*.c Sources/CRouterJSON/json_tape.c $(pkg-config --libs lua5.4) -lm)
if want json-tape; then "$clang" "${cflags[@]}" fuzz/json_tape.c Sources/CRouterJSON/json_tape.c -o "$bin/json-tape"; fi
if want lua-json; then "$clang" "${cflags[@]}" fuzz/lua_json.c "${lua[@]}" -o "$bin/lua-json"; fi
if want pattern; then "$clang" "${cflags[@]}" fuzz/pattern.c "${lua[@]}" -o "$bin/pattern"; fi

# Swift targets: executable targets that exist only with ROUTER_FUZZ=1 (Package.swift), coverage-instrumented.
for t in input-reader slack-text; do
  want "$t" || continue
  ROUTER_FUZZ=1 swift build --scratch-path "$out/swift" --sanitize=fuzzer --sanitize=address -Xcc -fsanitize=undefined \
    -Xcc -fno-sanitize-recover=undefined \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,trace-cmp,pc-table --product "fuzz-$t" 2>&1 \
    | { grep -E "error:" || true; } >&2
  cp "$out/swift/debug/fuzz-$t" "$bin/$t"
done

seeds_for() {
  local s=()
  case "$1" in
    json-tape|lua-json|input-reader)
      s+=(fuzz/corpus/json Tests/Fixtures/findings Tests/Fixtures/wrappers Tests/Fixtures/invalid examples)
      [ -d ../shared/corpus/guardduty ] && s+=(../shared/corpus/guardduty)
      [ -d ../shared/corpus/json/JSONTestSuite ] && [ "$1" != input-reader ] && s+=(../shared/corpus/json/JSONTestSuite)
      ;;
    pattern) s+=(fuzz/corpus/pattern) ;;
    slack-text) s+=(fuzz/corpus/slack-text) ;;
  esac
  [ -d "fuzz/found/$1" ] && s+=("fuzz/found/$1")
  printf '%s\n' "${s[@]}"
}

status=0
summary=()
for t in "${targets[@]}"; do
  [ -x "$bin/$t" ] || { echo "fuzz.sh: unknown target $t (targets: ${all[*]})" >&2; exit 2; }
  mapfile -t seeds < <(seeds_for "$t")
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  log=$out/$t.log
  echo "== $t: ${seconds} s" >&2
  # lua-json converts every value into Lua and back: inputs beyond 16 KB (truncated seeds stay useful) mostly slow it
  extra=()
  [ "$t" = lua-json ] && extra+=(-max_len=16384)
  rc=0
  "$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1 "${extra[@]}" \
    -artifact_prefix="$out/artifacts/$t/" "$out/corpus/$t" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$({ grep -oE 'cov: [0-9]+' "$log" || true; } | tail -1 | cut -d' ' -f2)
  if [ "$rc" != 0 ]; then
    status=1
    mkdir -p "fuzz/found/$t"
    found=()
    for a in "$out/artifacts/$t"/*; do
      [ -f "$a" ] || continue
      name=$(basename "$a")-$(sha1sum "$a" | cut -c1-12)
      cp "$a" "fuzz/found/$t/$name"
      found+=("fuzz/found/$t/$name")
      rm -f "$a"
    done
    { grep -E "ERROR|runtime error|Fatal error|fuzz: |SUMMARY" "$log" || true; } | head -5 >&2
    echo "$t: FOUND a problem (exit $rc); input(s): ${found[*]:-none saved}; log: $log" >&2
    echo "$t: once fixed, make each input a named test in Tests/RouterRulesTests/FuzzRegressionTests.swift" >&2
    summary+=("$(printf '%-13s %10s exec/s %12s runs  coverage %6s  FOUND: see %s' "$t" "${rate:-?}" "${runs:-?}" "${cov:-?}" "$log")")
  else
    summary+=("$(printf '%-13s %10s exec/s %12s runs  coverage %6s  clean' "$t" "${rate:-?}" "${runs:-?}" "${cov:-?}")")
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
