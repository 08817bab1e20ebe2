#!/usr/bin/env bash
# Slack button clicks on `router serve` (release build), on loopback, with the fake Slack and the fake GuardDuty
# (botocore checks every signature; no delay) behind it. Clicks are block_actions payloads of the posted message's
# buttons, signed with the signing secret as Slack signs them. Prints:
#   1. acknowledgement time of POST /slack/actions (p50, p99, max) for CLICKS (default 50) ack clicks by different
#      users, sent from CLICKS threads released together (connections opened beforehand), and the time until the
#      message names them all;
#   2. click to edited message, for ROUNDS (default 20) sequential clicks alternating Archive/Unarchive (after one
#      untimed warm-up click): p50/p99 of the time until the fake Slack has answered the chat.update (polled every
#      2 ms through /_control/requests?since=ID), and of its arrival there (the fake's CLOCK_MONOTONIC).
# The client is Python (stdlib); nearest-rank percentiles, so p99 of 20 or 50 samples is their maximum.
#
# The fake GuardDuty needs botocore: from .venv when it has it, else from .venv-bench (made here with pip).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/serve.sh
CLICKS=${CLICKS:-50}
ROUNDS=${ROUNDS:-20}

for product in router router-server; do
  log=$(swift build -c release --product "$product" 2>&1) || { echo "$log"; exit 1; }
done
bin=$PWD/.build/release/router

if .venv/bin/python -c 'import botocore' 2>/dev/null; then
  py=$PWD/.venv/bin/python
else
  if ! .venv-bench/bin/python -c 'import botocore' 2>/dev/null; then
    rm -rf .venv-bench
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q botocore
  fi
  py=$PWD/.venv-bench/bin/python
fi

work=$(mktemp -d)
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "${slack_pid:-}" ] && kill "$slack_pid" 2>/dev/null || true
  [ -n "${gd_pid:-}" ] && kill "$gd_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Both fakes read a pipe this script holds open (fd 7): they also exit when the script does.
mkfifo "$work/stdin"
exec 7<>"$work/stdin"
python3 Tests/FakeSlack/fake_slack.py --port 0 <"$work/stdin" >"$work/slack.out" 2>"$work/slack.err" &
slack_pid=$!
"$py" Tests/FakeGuardDuty/fake_guardduty.py AKIDBENCHACTIONS bench-guardduty-secret d0123456789abcdef0123456789abcdef \
  <"$work/stdin" >"$work/gd.out" 2>"$work/gd.err" &
gd_pid=$!
for _ in $(seq 100); do [ -s "$work/slack.out" ] && grep -q '^PORT' "$work/gd.out" && break; sleep 0.1; done
slack_port=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["port"])' "$(head -1 "$work/slack.out")")
gd_port=$(awk '/^PORT/ {print $2}' "$work/gd.out")
[ -n "$gd_port" ] || { cat "$work/gd.err"; exit 1; }

# The rules of the actions tests: buttons on every delivery, team T1 may click them.
mkdir -p "$work/rules"
cat > "$work/rules/50.lua" <<'LUA'
return {
  route = function(f)
    return { channel = "#sec", actions = { "ack", "archive", "useful", "not_useful", "suppress" } }
  end,
  permit = function(action, user, f, ctx)
    if user.team == "T1" then return true end
  end,
}
LUA

export ROUTER_API_TOKEN="bench-token-$(date +%s)" SLACK_SIGNING_SECRET="bench-signing-secret-$(date +%s)"
env -u SLACK_WEBHOOK_URL -u ROUTER_STATE_TABLE LOG_LEVEL=warning \
  SLACK_BOT_TOKEN=xoxb-fake-token SLACK_API_URL="http://127.0.0.1:$slack_port/api" \
  AWS_ACCESS_KEY_ID=AKIDBENCHACTIONS AWS_SECRET_ACCESS_KEY=bench-guardduty-secret AWS_SESSION_TOKEN=bench-session-token \
  ROUTER_GUARDDUTY_ENDPOINT="http://127.0.0.1:$gd_port" \
  "$bin" serve --rules "$work/rules" --listen 127.0.0.1:0 --data "$work/data" >"$work/out" 2>"$work/err" &
server_pid=$!
port=$(listening_port "$work/out" "$work/err")

echo "== $CLICKS concurrent ack clicks, then $ROUNDS sequential Archive/Unarchive clicks"
if ! timeout 300 python3 - "$port" "$slack_port" "$gd_port" "$CLICKS" "$ROUNDS" <<'PY'; then
import hmac, hashlib, http.client, json, math, sys, threading, time, urllib.parse

port, slack_port, gd_port, clicks, rounds = (int(a) for a in sys.argv[1:6])
import os
token, secret = os.environ["ROUTER_API_TOKEN"], os.environ["SLACK_SIGNING_SECRET"].encode()
response_url = f"http://127.0.0.1:{slack_port}/services/T1/response/bench"


def call(p, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", p, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def slack(path):
    status, body = call(slack_port, "GET", path)
    assert status == 200, (path, status)
    return json.loads(body)


def wait(what, predicate, timeout=15, interval=0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(interval)
    sys.exit(f"timed out waiting for {what}")


def message(ts):
    return next(m for m in slack("/_control/messages")["messages"] if m["ts"] == ts)


last_id = 0


def last_request_id():
    """The id of the fake Slack's latest request (read since the previous call)."""
    global last_id
    rs = slack(f"/_control/requests?since={last_id}")["requests"]
    last_id = rs[-1]["id"] if rs else last_id
    return last_id


def post_finding(fid):
    e = json.load(open("examples/medium-iam-anomalous-behavior.json"))
    e["region"] = e["detail"]["region"] = "eu-west-1"
    e["detail"]["id"] = fid
    e["detail"]["updatedAt"] = "2026-11-27T10:00:00.000Z"
    status, body = call(port, "POST", "/events", json.dumps(e).encode(),
                        {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    assert status == 202, (status, body)
    return wait("the finding's message", lambda: next(
        (m for m in slack("/_control/messages")["messages"] if fid in json.dumps(m)), None), interval=0.02)


def click(msg, action_id, user):
    """The signed request (body, headers) of a click on msg's button action_id by user of team T1."""
    blocks = msg.get("blocks", []) + [b for a in msg.get("attachments", []) for b in a.get("blocks", [])]
    actions = next(b for b in blocks if b.get("block_id") == "router.actions")
    button = dict(next(e for e in actions["elements"] if e.get("action_id") == action_id))
    button.update(block_id="router.actions", action_ts="1700000001.000100")
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T1"},
        "api_app_id": "A0ROUTER", "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": msg["ts"], "channel_id": msg["channel"], "is_ephemeral": False},
        "trigger_id": "1.2.3", "team": {"id": "T1", "domain": "example"}, "channel": {"id": msg["channel"], "name": "sec"},
        "message": msg, "response_url": response_url, "actions": [button],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(secret, b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                  "X-Slack-Signature": sig}


def pct(xs, p):
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def ms(x):
    return f"{x * 1000:.1f} ms"


def replies_since(since, ts):
    """chat.postMessage thread replies to ts answered ok since request id since."""
    return [r for r in slack(f"/_control/requests?since={since}")["requests"]
            if r["path"] == "/api/chat.postMessage" and r["body"].get("thread_ts") == ts and r["outcome"] == "ok"]


# 1. Concurrent clicks.
msg = post_finding("bench0000000000000000000000000001")
users = [f"U0USER{i:04d}" for i in range(clicks)]
requests = [click(msg, "router.ack", u) for u in users]
since = last_request_id()
barrier = threading.Barrier(clicks)
acks, statuses = [None] * clicks, [None] * clicks
released = [None]


def clicker(i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.connect()
        barrier.wait(timeout=30)
        released[0] = released[0] or time.monotonic()
        t0 = time.perf_counter()
        c.request("POST", "/slack/actions", body=requests[i][0], headers=requests[i][1])
        r = c.getresponse()
        r.read()
        acks[i], statuses[i] = time.perf_counter() - t0, r.status
    except Exception as e:
        statuses[i] = repr(e)
    finally:
        c.close()


threads = [threading.Thread(target=clicker, args=(i,)) for i in range(clicks)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
bad = [s for s in statuses if s != 200]
if bad:
    sys.exit(f"{len(bad)} clicks not answered 200: {bad[:5]}")
wait("every acknowledgement in the message",
     lambda: all(f"<@{u}>" in json.dumps(message(msg["ts"])) for u in users), timeout=60, interval=0.01)
shown = time.monotonic() - released[0]
wait("every thread reply", lambda: len(replies_since(since, msg["ts"])) >= clicks, timeout=60, interval=0.05)
print(f"acknowledgement of POST /slack/actions, {clicks} clicks at once: "
      f"p50 {ms(pct(acks, 50))}, p99 {ms(pct(acks, 99))}, max {ms(max(acks))}")
print(f"all {clicks} acknowledgements shown in the message {ms(shown)} after the release")

# 2. Sequential clicks: click -> chat.update answered by the fake Slack.
msg = post_finding("bench0000000000000000000000000002")
seen, arrived, acked = [], [], []
for n in range(rounds + 1):
    current = message(msg["ts"])
    action = "router.unarchive" if "router.unarchive" in json.dumps(current) else "router.archive"
    body, headers = click(current, action, "U0ALICE")
    since = last_request_id()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.connect()
    t0 = time.monotonic()
    c.request("POST", "/slack/actions", body=body, headers=headers)
    r = c.getresponse()
    r.read()
    t_ack = time.monotonic()
    c.close()
    assert r.status == 200, r.status

    def edited():
        return next((q for q in slack(f"/_control/requests?since={since}")["requests"]
                     if q["path"] == "/api/chat.update" and q["body"].get("ts") == msg["ts"] and q["outcome"] == "ok"),
                    None)

    update = wait("the edited message", edited)
    t_seen = time.monotonic()
    wait("the thread reply", lambda: replies_since(since, msg["ts"]), interval=0.01)
    if n > 0:
        acked.append(t_ack - t0)
        seen.append(t_seen - t0)
        arrived.append(update["t"] - t0)
print(f"click to edited message, {rounds} sequential Archive/Unarchive clicks (GuardDuty call included): "
      f"p50 {ms(pct(seen, 50))}, p99 {ms(pct(seen, 99))} (polled every 2 ms)")
print(f"  chat.update arrived at the fake Slack: p50 {ms(pct(arrived, 50))}, p99 {ms(pct(arrived, 99))}; "
      f"acknowledged: p50 {ms(pct(acked, 50))}, p99 {ms(pct(acked, 99))}")

status, log = call(gd_port, "GET", "/_log")
log = json.loads(log)
invalid = [e for e in log if not e["valid"]]
print(f"GuardDuty: {len(log)} signed calls, {len(invalid)} with a bad signature")
if invalid:
    sys.exit(f"bad signatures: {invalid[:2]}")
PY
  echo "FAILED; the server's log:"; tail -20 "$work/err"; exit 1
fi
