# Sourced by the server benchmarks. listening_port OUT ERR: waits (10 s at most) until `router serve`, started with
# `--listen 127.0.0.1:0` and its standard output in OUT, has printed its address, and prints the port; prints ERR and
# fails when it never does.
listening_port() {
  local out=$1 err=$2 p
  for _ in $(seq 100); do grep -q '^listening on' "$out" 2>/dev/null && break; sleep 0.1; done
  p=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
  [ -n "$p" ] || { cat "$err" >&2; return 1; }
  echo "$p"
}
