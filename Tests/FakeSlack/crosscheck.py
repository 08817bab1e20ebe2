#!/usr/bin/env python3
"""Cross-checks fake_slack.py against an independent, real Slack client (PyPI `slack-sdk`).

    python3 -m venv /tmp/venv-fake && /tmp/venv-fake/bin/pip install -q slack-sdk
    /tmp/venv-fake/bin/python Tests/FakeSlack/crosscheck.py

Starts the fake itself (same interpreter, --port 0, stdin pipe), prints `ok <name>` / `FAIL <name>: <why>` per
check and a final `N passed, M failed` line; exits 1 if anything failed. Always kills the fake.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_slack.py")
TOKEN = "xoxb-fake-token"
DEADLINE_SECONDS = 30  # hard watchdog; the run normally takes well under 20 s

QUIET = logging.getLogger("crosscheck.quiet")  # slack-sdk logs connection failures at ERROR: keep them out
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False
QUIET.setLevel(logging.CRITICAL)

TS_RE = re.compile(r"^\d{10}\.\d{6}$")


# --------------------------------------------------------------------------------------------------------------
# Fake process management
# --------------------------------------------------------------------------------------------------------------


def start_fake(extra_args=()) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, FAKE, "--port", "0", *extra_args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    ready, _, _ = select.select([proc.stdout], [], [], 5.0)
    if not ready:
        kill(proc)
        raise RuntimeError("fake did not print its port within 5 s")
    line = proc.stdout.readline().decode()
    try:
        port = json.loads(line)["port"]
    except (ValueError, KeyError, TypeError):
        kill(proc)
        raise RuntimeError(f"fake printed {line!r} instead of {{\"port\": N}}")
    return proc, port


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.terminate()
        proc.wait(2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(2)


# --------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------


class Fake:
    def __init__(self, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def control(self, method: str, path: str, obj=None):
        data = None if obj is None else json.dumps(obj).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    def reset(self):
        return self.control("POST", "/_control/reset", {})

    def script(self, responses, match=None, repeat=False):
        spec = {"responses": responses, "repeat": repeat}
        if match is not None:
            spec["match"] = match
        return self.control("POST", "/_control/script", spec)

    def config(self, **cfg):
        return self.control("POST", "/_control/config", cfg)

    def requests(self):
        return self.control("GET", "/_control/requests")["requests"]

    def stats(self):
        return self.control("GET", "/_control/stats")

    def raw(self, method, path, body: bytes | None, headers=None, timeout=5):
        """Plain urllib request; returns (status, headers, body) for any status."""
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def webhook(self, path="/services/T0FAKE/B0FAKE/secret", timeout=5, retry_handlers=None):
        kw = {} if retry_handlers is None else {"retry_handlers": retry_handlers}
        return WebhookClient(self.base + path, timeout=timeout, logger=QUIET, **kw)

    def web(self, token=TOKEN, timeout=5, retry_handlers=None):
        kw = {} if retry_handlers is None else {"retry_handlers": retry_handlers}
        return WebClient(token=token, base_url=self.base + "/api/", timeout=timeout, logger=QUIET, **kw)


def header(headers, name):
    if headers is None:
        return None
    if hasattr(headers, "get"):
        for k in (name, name.lower()):
            v = headers.get(k)
            if v is not None:
                return v[0] if isinstance(v, list) else v
    for k, v in dict(headers).items():
        if k.lower() == name.lower():
            return v[0] if isinstance(v, list) else v
    return None


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def expect_eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def is_timeout(err: BaseException) -> bool:
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, (TimeoutError, socket.timeout)):
            return True
        if isinstance(err, urllib.error.URLError) and isinstance(err.reason, (TimeoutError, socket.timeout)):
            return True
        if "timed out" in str(err).lower():
            return True
        err = err.__cause__ or err.__context__
    return False


def is_connection_error(err: BaseException) -> bool:
    return isinstance(err, (urllib.error.URLError, ConnectionError, http.client.HTTPException)) and not is_timeout(err)


def api_error(fn) -> SlackApiError:
    try:
        fn()
    except SlackApiError as e:
        return e
    raise AssertionError("expected SlackApiError, the call succeeded")


# --------------------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------------------

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def webhook_ok(f: Fake):
    r = f.webhook().send(text="hello")
    expect_eq(r.status_code, 200, "status")
    expect_eq(r.body, "ok", "body")


@check
def webhook_429_retry_after(f: Fake):
    f.script([{"status": 429, "retry_after": 2}], match={"path_prefix": "/services/"})
    r = f.webhook(retry_handlers=[]).send(text="x")
    expect_eq(r.status_code, 429, "status")
    expect_eq(header(r.headers, "Retry-After"), "2", "Retry-After")
    expect_eq(r.body, "rate_limited", "body")


@check
def webhook_404_channel_not_found(f: Fake):
    f.script([{"error": "channel_not_found"}])
    r = f.webhook().send(text="x")
    expect_eq(r.status_code, 404, "status")
    expect_eq(r.body, "channel_not_found", "body")


@check
def webhook_410_channel_is_archived(f: Fake):
    f.script([{"error": "channel_is_archived"}])
    r = f.webhook().send(text="x")
    expect_eq(r.status_code, 410, "status")
    expect_eq(r.body, "channel_is_archived", "body")


@check
def webhook_403_and_400_codes(f: Fake):
    f.script([{"error": "invalid_token"}, {"error": "invalid_blocks"}, {"error": "no_service"}])
    got = [(r.status_code, r.body) for r in (f.webhook().send(text="x") for _ in range(3))]
    expect_eq(got, [(403, "invalid_token"), (400, "invalid_blocks"), (404, "no_service")], "responses")


@check
def webhook_500_rollup_error(f: Fake):
    f.script([{"status": 500}])
    r = f.webhook(retry_handlers=[]).send(text="x")
    expect_eq(r.status_code, 500, "status")
    expect("rollup_error" in r.body and "<html" in r.body.lower(), f"body is not an HTML rollup_error: {r.body[:80]!r}")


@check
def webhook_503(f: Fake):
    f.script([{"status": 503}])
    r = f.webhook(retry_handlers=[]).send(text="x")
    expect_eq(r.status_code, 503, "status")


@check
def webhook_validates_payload(f: Fake):
    r = f.webhook().send_dict({"blocks": []})
    expect_eq((r.status_code, r.body), (400, "no_text"), "empty payload")
    r = f.webhook().send(text="x", blocks=[{"type": "header", "text": {"type": "mrkdwn", "text": "*no*"}}])
    expect_eq((r.status_code, r.body), (400, "invalid_blocks"), "mrkdwn header")
    r = f.webhook().send(text="x", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}])
    expect_eq((r.status_code, r.body), (400, "invalid_blocks"), "3001-char section")
    r = f.webhook().send(text="x", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3000}}])
    expect_eq((r.status_code, r.body), (200, "ok"), "3000-char section")


@check
def webclient_post_ok(f: Fake):
    r = f.web().chat_postMessage(channel="C0ALERTS", text="hi", blocks=[{"type": "divider"}])
    expect_eq(r.status_code, 200, "status")
    expect_eq(r["ok"], True, "ok")
    expect_eq(r["channel"], "C0ALERTS", "channel")
    expect(TS_RE.match(r["ts"] or ""), f"ts {r['ts']!r} does not look like a Slack ts")
    r2 = f.web().chat_postMessage(channel="C0ALERTS", text="again", thread_ts=r["ts"])
    expect(float(r2["ts"]) > float(r["ts"]) and r2["ts"] != r["ts"], f"ts not increasing: {r['ts']} then {r2['ts']}")
    expect_eq(r2["message"].get("thread_ts"), r["ts"], "thread_ts echoed in message")


@check
def webclient_form_encoded_post(f: Fake):
    r = f.web().api_call("chat.postMessage", data={"channel": "#alerts", "text": "form body"})
    # Like Slack, a channel name comes back as the channel's ID.
    expect_eq((r["ok"], r["channel"][:1], r["channel"] != "#alerts", r["message"]["text"]), (True, "C", True, "form body"),
              "response")
    rec = f.requests()[-1]
    expect_eq(rec["body"].get("text"), "form body", "recorded form field")


@check
def webclient_auth_test(f: Fake):
    r = f.web().auth_test()
    expect_eq((r["ok"], r["team_id"], r["user_id"]), (True, "T0FAKE", "U0ROUTER"), "auth.test")


@check
def webclient_invalid_auth(f: Fake):
    e = api_error(lambda: f.web(token="xoxb-wrong").chat_postMessage(channel="C1", text="x"))
    expect_eq(e.response["error"], "invalid_auth", "error")
    expect_eq(e.response.status_code, 200, "status")


@check
def webclient_not_authed(f: Fake):
    e = api_error(lambda: f.web(token=None).chat_postMessage(channel="C1", text="x"))
    expect_eq(e.response["error"], "not_authed", "error")


@check
def api_channel_not_found(f: Fake):
    f.script([{"error": "channel_not_found"}], match={"channel": "#nope"})
    e = api_error(lambda: f.web().chat_postMessage(channel="#nope", text="x"))
    expect_eq(e.response["error"], "channel_not_found", "error")
    expect_eq(e.response.status_code, 200, "status")
    r = f.web().chat_postMessage(channel="#other", text="x")  # the rule only matches #nope
    expect_eq(r["ok"], True, "other channel")


@check
def api_429_retry_after(f: Fake):
    f.script([{"status": 429, "retry_after": 3}], match={"path_prefix": "/api/chat.postMessage"})
    e = api_error(lambda: f.web(retry_handlers=[]).chat_postMessage(channel="C1", text="x"))
    expect_eq(e.response.status_code, 429, "status")
    expect_eq(header(e.response.headers, "Retry-After"), "3", "Retry-After")
    expect_eq(e.response["error"], "ratelimited", "error")


@check
def api_500_html(f: Fake):
    f.script([{"status": 500}], match={"path_prefix": "/api/"})
    e = api_error(lambda: f.web(retry_handlers=[]).chat_postMessage(channel="C1", text="x"))
    expect_eq(e.response.status_code, 500, "status")


@check
def chat_update_ok(f: Fake):
    w = f.web()
    p = w.chat_postMessage(channel="C0ALERTS", text="v1")
    u = w.chat_update(channel="C0ALERTS", ts=p["ts"], text="v2")
    expect_eq((u["ok"], u["channel"], u["ts"], u["text"]), (True, "C0ALERTS", p["ts"], "v2"), "update")
    msgs = f.control("GET", "/_control/messages")["messages"]
    expect_eq([m["text"] for m in msgs if m["ts"] == p["ts"]], ["v2"], "stored text after update")


@check
def chat_update_message_not_found(f: Fake):
    w = f.web()
    p = w.chat_postMessage(channel="C0ALERTS", text="v1")
    e = api_error(lambda: w.chat_update(channel="C0ALERTS", ts="1699999999.000001", text="v2"))
    expect_eq(e.response["error"], "message_not_found", "unknown ts")
    e = api_error(lambda: w.chat_update(channel="C0OTHER", ts=p["ts"], text="v2"))
    expect_eq(e.response["error"], "message_not_found", "ts from another channel")


@check
def dropped_connection_raises(f: Fake):
    f.script([{"drop": True}])
    try:
        f.webhook(retry_handlers=[]).send(text="x")
    except Exception as e:  # noqa: BLE001 - the point is which exception
        expect(is_connection_error(e), f"unexpected exception type {type(e).__name__}: {e}")
    else:
        raise AssertionError("expected a connection error, got a response")
    rec = f.requests()[-1]
    expect_eq((rec["outcome"], rec["status"]), ("dropped", None), "recorded drop")


@check
def dropped_connection_sdk_default_retry(f: Fake):
    # slack-sdk's default handler retries a connection error once: the fake sees two requests.
    f.script([{"drop": True}])
    r = f.webhook().send(text="x")
    expect_eq((r.status_code, r.body), (200, "ok"), "after retry")
    expect_eq([q["outcome"] for q in f.requests()], ["dropped", "ok"], "recorded outcomes")


@check
def delay_beyond_client_timeout(f: Fake):
    f.script([{"delay": 1.5}])
    t0 = time.monotonic()
    try:
        f.webhook(timeout=0.5, retry_handlers=[]).send(text="x")
    except Exception as e:  # noqa: BLE001
        expect(is_timeout(e), f"expected a timeout, got {type(e).__name__}: {e}")
    else:
        raise AssertionError("expected a timeout, got a response")
    took = time.monotonic() - t0
    expect(0.4 < took < 1.4, f"timed out after {took:.2f}s, want about 0.5s")


@check
def delay_within_client_timeout(f: Fake):
    f.script([{"delay": 0.3}])
    t0 = time.monotonic()
    r = f.webhook(timeout=3).send(text="x")
    took = time.monotonic() - t0
    expect_eq((r.status_code, r.body), (200, "ok"), "delayed ok")
    expect(took >= 0.28, f"answered after {took:.2f}s, want >= 0.3s")


@check
def hang_does_not_block_others(f: Fake):
    f.script([{"hang": True}], match={"path_prefix": "/api/"})
    errors = []

    def hung_call():
        try:
            f.web(timeout=1.0, retry_handlers=[]).chat_postMessage(channel="C1", text="x")
            errors.append("hung request got an answer")
        except Exception as e:  # noqa: BLE001
            if not is_timeout(e):
                errors.append(f"hung request: {type(e).__name__}: {e}")

    t = threading.Thread(target=hung_call)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    r = f.webhook(timeout=2).send(text="meanwhile")
    took = time.monotonic() - t0
    t.join(3)
    expect_eq(r.status_code, 200, "other request while one hangs")
    expect(took < 1.5, f"other request took {took:.2f}s")
    expect(not errors, "; ".join(errors))
    outcomes = sorted(q["outcome"] for q in f.requests())
    expect_eq(outcomes, ["hung", "ok"], "recorded outcomes")


@check
def keep_alive_reuses_connection(f: Fake):
    conn = http.client.HTTPConnection("127.0.0.1", f.port, timeout=3)
    try:
        socks = []
        for i in range(3):
            conn.request("POST", "/services/T/B/keepalive", body=json.dumps({"text": str(i)}),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            expect_eq((resp.status, resp.read()), (200, b"ok"), f"request {i}")
            expect(resp.getheader("Content-Length") == "2", "Content-Length missing")
            socks.append(id(conn.sock))
        expect(len(set(socks)) == 1 and socks[0] is not None, "connection was not reused")
    finally:
        conn.close()


@check
def invalid_json_and_unknown_path(f: Fake):
    s, _, b = f.raw("POST", "/services/T/B/x", b'{"text":', {"Content-Type": "application/json"})
    expect_eq((s, b), (400, "invalid_payload"), "webhook invalid JSON")
    s, _, b = f.raw("POST", "/api/chat.postMessage", b'{"channel":',
                    {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
    expect_eq((s, json.loads(b)), (200, {"ok": False, "error": "invalid_json"}), "API invalid JSON")
    s, _, _ = f.raw("GET", "/nowhere", None)
    expect_eq(s, 404, "unknown path")


@check
def large_body_accepted(f: Fake):
    text = "x" * (1024 * 1024)  # 1 MiB of text: the fake must read it whole (Slack itself would truncate)
    r = f.webhook().send(text=text)
    expect_eq((r.status_code, r.body), (200, "ok"), "1 MiB body")
    s, _, _ = f.raw("POST", "/services/T/B/x", b"{" + b" " * (2 * 1024 * 1024 + 10) + b"}",
                    {"Content-Type": "application/json"})
    expect_eq(s, 413, "body over 2 MiB")


@check
def pacing_enforced(f: Fake):
    f.config(rate_limit={"per_second": 1, "burst": 2})
    w = f.webhook(retry_handlers=[])
    got = [w.send(text=str(i)) for i in range(3)]
    expect_eq([r.status_code for r in got], [200, 200, 429], "statuses")
    expect_eq(header(got[2].headers, "Retry-After"), "1", "Retry-After")
    web = f.web(retry_handlers=[])
    web.chat_postMessage(channel="C1", text="1")
    web.chat_postMessage(channel="C1", text="2")
    e = api_error(lambda: web.chat_postMessage(channel="C1", text="3"))
    expect_eq((e.response.status_code, e.response["error"]), (429, "ratelimited"), "API over the limit")
    expect_eq(web.chat_postMessage(channel="C2", text="other channel")["ok"], True, "separate bucket per channel")
    st = f.stats()
    expect_eq(st["rate_limited"], 2, "stats.rate_limited")
    expect_eq(st["by_channel"]["C1"]["rate_limited"], 1, "stats.by_channel[C1].rate_limited")


@check
def pacing_observe_only(f: Fake):
    f.config(rate_limit={"per_second": 1, "burst": 1}, fail_on_rate_limit=False)
    w = f.webhook(retry_handlers=[])
    expect_eq([w.send(text=str(i)).status_code for i in range(3)], [200, 200, 200], "statuses")
    st = f.stats()
    expect_eq((st["rate_limited"], st["over_rate_limit"]), (0, 2), "rate_limited / over_rate_limit")


@check
def repeat_rule_and_reset(f: Fake):
    f.script([{"status": 503}, {"ok": True}], repeat=True)
    w = f.webhook(retry_handlers=[])
    expect_eq([w.send(text="x").status_code for _ in range(5)], [503, 200, 503, 200, 503], "cycling rule")
    f.reset()
    expect_eq(w.send(text="x").status_code, 200, "after reset")
    expect_eq(f.stats()["total"], 1, "recordings cleared by reset")


@check
def first_matching_rule_wins(f: Fake):
    f.script([{"error": "no_service"}], match={"path_prefix": "/services/A/"})
    f.script([{"error": "channel_not_found"}, {"error": "team_disabled"}])
    a = f.webhook("/services/A/1").send(text="x")
    b = f.webhook("/services/B/1").send(text="x")
    a2 = f.webhook("/services/A/1").send(text="x")  # rule 1 exhausted: falls through to rule 2
    c = f.webhook("/services/B/1").send(text="x")  # both exhausted: normal
    expect_eq([a.body, b.body, a2.body, c.body], ["no_service", "channel_not_found", "team_disabled", "ok"], "bodies")


@check
def control_rejects_bad_script(f: Fake):
    s, _, b = f.raw("POST", "/_control/script", json.dumps({"responses": [{"stauts": 429}]}).encode(),
                    {"Content-Type": "application/json"})
    expect_eq(s, 400, "typo in a response key")


@check
def recorded_requests(f: Fake):
    f.reset()
    f.webhook("/services/T/B/rec").send(text="one")
    f.web().chat_postMessage(channel="C0REC", text="two")
    api_error(lambda: f.web(token="xoxb-wrong-secret").chat_postMessage(channel="C0REC", text="three"))
    raw = f.control("GET", "/_control/requests")
    reqs = raw["requests"]
    expect_eq(len(reqs), 3, "count")
    expect_eq([r["path"] for r in reqs],
              ["/services/T/B/rec", "/api/chat.postMessage", "/api/chat.postMessage"], "order")
    expect_eq([r["channel"] for r in reqs], ["/services/T/B/rec", "C0REC", "C0REC"], "channels")
    expect_eq([r["status"] for r in reqs], [200, 200, 200], "statuses")
    expect_eq([r["error"] for r in reqs], [None, None, "invalid_auth"], "error codes")
    expect_eq([r["body"].get("text") for r in reqs], ["one", "two", "three"], "bodies")
    expect(reqs[0]["t"] <= reqs[1]["t"] <= reqs[2]["t"], "monotonic arrival times out of order")
    expect(all(isinstance(r["wall_time"], float) and r["method"] == "POST" for r in reqs), "wall_time/method")
    expect_eq([r["headers"].get("Authorization") for r in reqs], [None, "Bearer ***", "Bearer ***"], "redaction")
    dump = json.dumps(raw)
    expect(TOKEN not in dump and "xoxb-wrong-secret" not in dump, "a token leaked into the recording")
    st = f.stats()
    expect_eq((st["total"], st["ok"], st["errors"]), (3, 2, 1), "stats")


@check
def exits_on_stdin_eof_and_sigterm(f: Fake):
    for how in ("stdin EOF", "SIGTERM"):
        proc, port = start_fake()
        try:
            t0 = time.monotonic()
            if how == "stdin EOF":
                proc.stdin.close()
            else:
                proc.send_signal(signal.SIGTERM)
            rc = proc.wait(3)
            took = time.monotonic() - t0
            expect_eq(rc, 0, f"exit code after {how}")
            expect(took < 2, f"took {took:.2f}s to exit after {how}")
            rest = proc.stdout.read()
            expect_eq(rest, b"", f"extra stdout after the port line ({how})")
        finally:
            kill(proc)


# --------------------------------------------------------------------------------------------------------------


def main() -> int:
    try:
        proc, port = start_fake()
    except Exception as e:  # noqa: BLE001
        print(f"FAIL start_fake: {e}", flush=True)
        print("0 passed, 1 failed", flush=True)
        return 1
    fake = Fake(port)

    def watchdog():
        print(f"FAIL watchdog: crosscheck still running after {DEADLINE_SECONDS}s", flush=True)
        kill(proc)
        os._exit(1)

    timer = threading.Timer(DEADLINE_SECONDS, watchdog)
    timer.daemon = True
    timer.start()
    passed = failed = 0
    t_start = time.monotonic()
    try:
        for fn in CHECKS:
            try:
                fake.reset()
                fn(fake)
            except Exception as e:  # noqa: BLE001 - report every kind of failure
                failed += 1
                why = str(e) or type(e).__name__
                print(f"FAIL {fn.__name__}: {why}", flush=True)
            else:
                passed += 1
                print(f"ok {fn.__name__}", flush=True)
    finally:
        timer.cancel()
        kill(proc)
    sys.stderr.write(f"crosscheck took {time.monotonic() - t_start:.1f}s\n")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
