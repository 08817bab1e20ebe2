#!/usr/bin/env python3
"""A fake Slack (incoming webhooks + a slice of the Web API) for the router's tests.

Standard library only (Python 3.11+). Start it as a subprocess:

    python3 Tests/FakeSlack/fake_slack.py --port 0

It binds 127.0.0.1, prints exactly one line `{"port": N}` to stdout, and then serves until SIGTERM/SIGINT
or until its stdin reaches EOF (so it never outlives the test that started it). See README.md in this
directory for the control API.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 2 * 1024 * 1024
DEFAULT_TOKEN = "xoxb-fake-token"

# Incoming-webhook error codes and the HTTP status Slack sends them with.
WEBHOOK_ERROR_STATUS = {
    "invalid_payload": 400,
    "no_text": 400,
    "invalid_blocks": 400,
    "too_many_attachments": 400,
    "user_not_found": 400,
    "action_prohibited": 403,
    "invalid_token": 403,
    "posting_to_general_channel_denied": 403,
    "channel_not_found": 404,
    "no_service": 404,
    "no_active_hooks": 404,
    "team_disabled": 404,
    "channel_is_archived": 410,
    "rate_limited": 429,
    "ratelimited": 429,
    "rollup_error": 500,
}
# Default error code for a scripted bare status.
STATUS_DEFAULT_CODE = {
    400: "invalid_payload",
    403: "action_prohibited",
    404: "no_service",
    410: "channel_is_archived",
    429: "rate_limited",
    500: "rollup_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
RATE_LIMIT_CODES = {"rate_limited", "ratelimited"}

ROLLUP_HTML = (
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Server Error | Slack</title></head>\n"
    "<body><h1>Slack is having trouble</h1><p>rollup_error</p>"
    "<p>Something went wrong on our end. Please try again.</p></body></html>\n"
)

RESPONSE_KEYS = {"status", "retry_after", "error", "delay", "hang", "drop", "ok", "body"}
MATCH_KEYS = {"path_prefix", "channel"}
CONFIG_KEYS = {"rate_limit", "token", "fail_on_rate_limit", "validate_blocks"}


# The token given on the command line (--token) is the default that /_control/reset restores.
DEFAULT_HOLDER = {"token": DEFAULT_TOKEN}


def default_config() -> dict:
    return {"rate_limit": None, "token": DEFAULT_HOLDER["token"], "fail_on_rate_limit": True,
            "validate_blocks": True}


def canonical_header(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def fmt_seconds(v) -> str:
    v = float(v)
    return str(int(v)) if v == int(v) else repr(v)


class Stop(Exception):
    """Raised inside a handler to abandon the connection with no response."""


# --------------------------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------------------------


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exiting = threading.Event()  # set when the server shuts down: releases hung requests
        self.ts_counter = 0  # never reset: every ts handed out is unique for the life of the process
        self.reset_locked()

    def reset_locked(self) -> None:
        self.rules: list[dict] = []
        self.config = default_config()
        self.requests: list[dict] = []
        self.messages: dict[tuple[str, str], dict] = {}
        self.buckets: dict[str, list[float]] = {}
        self.next_request_id = 1
        self.next_rule_id = 1

    # -- scripts ------------------------------------------------------------------------------------------------

    def add_rule(self, spec: dict) -> dict:
        if not isinstance(spec, dict):
            raise ValueError("script must be a JSON object")
        unknown = set(spec) - {"match", "responses", "repeat"}
        if unknown:
            raise ValueError(f"unknown script keys: {sorted(unknown)}")
        match = spec.get("match") or {}
        if not isinstance(match, dict) or set(match) - MATCH_KEYS:
            raise ValueError(f"match must be an object with keys among {sorted(MATCH_KEYS)}")
        for k, v in match.items():
            if not isinstance(v, str):
                raise ValueError(f"match.{k} must be a string")
        responses = spec.get("responses")
        if not isinstance(responses, list) or not responses:
            raise ValueError("responses must be a non-empty list")
        for r in responses:
            validate_response(r)
        repeat = spec.get("repeat", False)
        if not isinstance(repeat, bool):
            raise ValueError("repeat must be a boolean")
        with self.lock:
            rule = {
                "id": self.next_rule_id,
                "match": dict(match),
                "responses": copy.deepcopy(responses),
                "repeat": repeat,
                "next": 0,
                "used": 0,
            }
            self.next_rule_id += 1
            self.rules.append(rule)
            return {"ok": True, "id": rule["id"], "rules": len(self.rules)}

    def take_scripted(self, path: str, channels: list[str]) -> tuple[dict | None, int | None]:
        with self.lock:
            for rule in self.rules:
                m = rule["match"]
                if "path_prefix" in m and not path.startswith(m["path_prefix"]):
                    continue
                if "channel" in m and m["channel"] not in channels:
                    continue
                if not rule["repeat"] and rule["next"] >= len(rule["responses"]):
                    continue
                resp = rule["responses"][rule["next"] % len(rule["responses"])]
                rule["next"] += 1
                rule["used"] += 1
                if rule["repeat"]:
                    rule["next"] %= len(rule["responses"])
                return copy.deepcopy(resp), rule["id"]
        return None, None

    def rules_snapshot(self) -> list[dict]:
        with self.lock:
            out = []
            for r in self.rules:
                remaining = None if r["repeat"] else len(r["responses"]) - r["next"]
                out.append({"id": r["id"], "match": r["match"], "responses": r["responses"], "repeat": r["repeat"],
                            "used": r["used"], "remaining": remaining})
            return out

    # -- config -------------------------------------------------------------------------------------------------

    def update_config(self, spec: dict) -> dict:
        if not isinstance(spec, dict):
            raise ValueError("config must be a JSON object")
        unknown = set(spec) - CONFIG_KEYS
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        if "rate_limit" in spec and spec["rate_limit"] is not None:
            rl = spec["rate_limit"]
            if not isinstance(rl, dict) or set(rl) - {"per_second", "burst"}:
                raise ValueError("rate_limit must be {\"per_second\": number, \"burst\": number} or null")
            ps = rl.get("per_second", 1)
            burst = rl.get("burst", 1)
            if not isinstance(ps, (int, float)) or isinstance(ps, bool) or ps <= 0:
                raise ValueError("rate_limit.per_second must be a positive number")
            if not isinstance(burst, (int, float)) or isinstance(burst, bool) or burst < 1:
                raise ValueError("rate_limit.burst must be a number >= 1")
        if "token" in spec and (not isinstance(spec["token"], str) or not spec["token"]):
            raise ValueError("token must be a non-empty string")
        for k in ("fail_on_rate_limit", "validate_blocks"):
            if k in spec and not isinstance(spec[k], bool):
                raise ValueError(f"{k} must be a boolean")
        with self.lock:
            if "rate_limit" in spec:
                rl = spec["rate_limit"]
                self.config["rate_limit"] = (
                    None if rl is None else {"per_second": rl.get("per_second", 1), "burst": rl.get("burst", 1)}
                )
                self.buckets.clear()
            for k in ("token", "fail_on_rate_limit", "validate_blocks"):
                if k in spec:
                    self.config[k] = spec[k]
            return self.config_view_locked()

    def config_view_locked(self) -> dict:
        view = copy.deepcopy(self.config)
        view["token"] = "***"  # never echo secrets
        return view

    def token(self) -> str:
        with self.lock:
            return self.config["token"]

    def validate_blocks_enabled(self) -> bool:
        with self.lock:
            return self.config["validate_blocks"]

    def pace(self, key: str, now: float) -> tuple[bool, bool, int]:
        """Token bucket. Returns (over_limit, should_fail, retry_after)."""
        with self.lock:
            rl = self.config["rate_limit"]
            if rl is None:
                return False, False, 0
            rate, burst = float(rl["per_second"]), float(rl["burst"])
            tokens, last = self.buckets.get(key, [burst, now])
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self.buckets[key] = [tokens - 1.0, now]
                return False, False, 0
            self.buckets[key] = [tokens, now]
            retry_after = max(1, math.ceil((1.0 - tokens) / rate))
            return True, bool(self.config["fail_on_rate_limit"]), retry_after

    # -- recording ----------------------------------------------------------------------------------------------

    def record(self, rec: dict) -> dict:
        with self.lock:
            rec["id"] = self.next_request_id
            self.next_request_id += 1
            self.requests.append(rec)
            return rec

    def finish(self, rec: dict, **fields) -> None:
        with self.lock:
            rec.update(fields)

    def requests_snapshot(self, since: int = 0) -> list[dict]:
        with self.lock:
            return [copy.deepcopy(r) for r in self.requests if r["id"] > since]

    def stats(self) -> dict:
        keys = ("total", "ok", "rate_limited", "errors", "dropped", "hung", "pending", "over_rate_limit")

        def blank():
            return {k: 0 for k in keys}

        out = blank()
        out["by_channel"] = {}
        out["by_path"] = {}
        with self.lock:
            for r in self.requests:
                buckets = [out]
                if r.get("channel") is not None:
                    buckets.append(out["by_channel"].setdefault(r["channel"], blank()))
                buckets.append(out["by_path"].setdefault(r["path"], blank()))
                for b in buckets:
                    b["total"] += 1
                    b[r["outcome"]] += 1
                    if r.get("over_rate_limit"):
                        b["over_rate_limit"] += 1
        return out

    # -- messages -----------------------------------------------------------------------------------------------

    def next_ts(self) -> str:
        with self.lock:
            self.ts_counter += 1
            micros = self.ts_counter * 100
            return f"{1700000000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def store_message(self, channel: str, ts: str, msg: dict) -> None:
        with self.lock:
            self.messages[(channel, ts)] = msg

    def message(self, channel: str, ts: str) -> dict | None:
        with self.lock:
            m = self.messages.get((channel, ts))
            return copy.deepcopy(m) if m is not None else None

    def delete_message(self, channel: str, ts: str) -> bool:
        with self.lock:
            return self.messages.pop((channel, ts), None) is not None

    def update_message(self, channel: str, ts: str, fields: dict) -> dict | None:
        with self.lock:
            msg = self.messages.get((channel, ts))
            if msg is None:
                return None
            msg.update(fields)
            msg["edited_count"] = msg.get("edited_count", 0) + 1
            return copy.deepcopy(msg)

    def messages_snapshot(self) -> list[dict]:
        with self.lock:
            return [dict(copy.deepcopy(m), channel=c) for (c, _), m in self.messages.items()]


def channel_id(channel: str) -> str:
    """Slack answers with channel IDs, whatever the request named: `#sec-alerts` or `sec-alerts` -> a stable
    `C...` ID; an ID (`C0123ABCD`, `G...`, `D...`) stays itself."""
    if not channel.startswith("#") and len(channel) >= 2 and channel[0] in "CGD" \
            and all(c.isupper() or c.isdigit() for c in channel):
        return channel  # already an ID (channel names are lowercase)
    name = channel[1:] if channel.startswith("#") else channel
    return "C" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()


def validate_response(r) -> None:
    if not isinstance(r, dict):
        raise ValueError("each response must be a JSON object")
    unknown = set(r) - RESPONSE_KEYS
    if unknown:
        raise ValueError(f"unknown response keys: {sorted(unknown)} (allowed: {sorted(RESPONSE_KEYS)})")
    if "status" in r and (not isinstance(r["status"], int) or isinstance(r["status"], bool)
                          or not 100 <= r["status"] <= 599):
        raise ValueError("status must be an HTTP status code")
    for k in ("delay", "retry_after"):
        if k in r and (not isinstance(r[k], (int, float)) or isinstance(r[k], bool) or r[k] < 0):
            raise ValueError(f"{k} must be a non-negative number")
    if "error" in r and (not isinstance(r["error"], str) or not r["error"]):
        raise ValueError("error must be a non-empty string")
    if "ok" in r and r["ok"] is not True:
        raise ValueError("ok must be true (script an error with {\"error\": code})")
    for k in ("hang", "drop"):
        if k in r and not isinstance(r[k], bool):
            raise ValueError(f"{k} must be a boolean")
    if "body" in r and not isinstance(r["body"], str):
        raise ValueError("body must be a string")


# --------------------------------------------------------------------------------------------------------------
# Block Kit checks (only the documented limits from the notes; `validate_blocks: false` turns them off)
# --------------------------------------------------------------------------------------------------------------


def _text_obj_len(t) -> int | None:
    if isinstance(t, dict) and isinstance(t.get("text"), str):
        return len(t["text"])
    return None


def blocks_problem(blocks) -> str | None:
    if not isinstance(blocks, list):
        return "blocks is not a list"
    if len(blocks) > 50:
        return "more than 50 blocks"
    for i, b in enumerate(blocks):
        if not isinstance(b, dict) or not isinstance(b.get("type"), str):
            return f"block {i} has no type"
        t = b["type"]
        if t == "header":
            txt = b.get("text")
            if not isinstance(txt, dict) or txt.get("type") != "plain_text":
                return f"block {i}: header text must be plain_text"
            n = _text_obj_len(txt)
            if n is None or n < 1 or n > 150:
                return f"block {i}: header text must be 1-150 chars"
        elif t == "section":
            if "text" in b:
                n = _text_obj_len(b["text"])
                if n is None or n < 1 or n > 3000:
                    return f"block {i}: section text must be 1-3000 chars"
            fields = b.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    return f"block {i}: at most 10 fields"
                for f in fields:
                    n = _text_obj_len(f)
                    if n is None or n < 1 or n > 2000:
                        return f"block {i}: each field must be 1-2000 chars"
            if "text" not in b and not fields:
                return f"block {i}: section needs text or fields"
        elif t == "context":
            els = b.get("elements")
            if not isinstance(els, list) or not 1 <= len(els) <= 10:
                return f"block {i}: context needs 1-10 elements"
    return None


def payload_problem(body: dict, validate: bool) -> str | None:
    """Returns a Slack error code for a message payload, or None."""
    has_text = isinstance(body.get("text"), str) and body["text"] != ""
    has_blocks = isinstance(body.get("blocks"), list) and len(body["blocks"]) > 0
    has_attach = isinstance(body.get("attachments"), list) and len(body["attachments"]) > 0
    if not (has_text or has_blocks or has_attach):
        return "no_text"
    if has_attach and len(body["attachments"]) > 100:
        return "too_many_attachments"
    if validate:
        if "blocks" in body and blocks_problem(body["blocks"]):
            return "invalid_blocks"
        for a in body.get("attachments") or []:
            if isinstance(a, dict) and "blocks" in a and blocks_problem(a["blocks"]):
                return "invalid_blocks"
    return None


# --------------------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per response.
    disable_nagle_algorithm = True
    server_version = "FakeSlack/1.0"
    sys_version = ""

    def version_string(self):
        return self.server_version
    state: State  # set on the class by main()
    verbose = False

    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        if self.verbose:
            sys.stderr.write("fake_slack: %s - %s\n" % (self.address_string(), format % args))

    # -- plumbing -----------------------------------------------------------------------------------------------

    def send(self, status: int, body: bytes | str, content_type: str, headers: dict | None = None) -> None:
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            # The client went away (e.g. it timed out during a scripted delay).
            self.close_connection = True

    def send_json(self, status: int, obj, headers: dict | None = None) -> None:
        self.send(status, json.dumps(obj), "application/json; charset=utf-8", headers)

    def send_text(self, status: int, text: str, headers: dict | None = None) -> None:
        self.send(status, text, "text/plain; charset=utf-8", headers)

    def drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def read_body(self) -> bytes | None:
        """Reads the request body. Returns None when it is too large (after answering 413)."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise Stop()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > MAX_BODY:
                    self.close_connection = True
                    self.send_text(413, "request_too_large")
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after the chunk
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            self.send_text(400, "bad_content_length")
            return None
        if n > MAX_BODY:
            # Drain what was sent (so the client can read the answer instead of failing on a reset), then 413.
            if n <= 8 * MAX_BODY:
                left = n
                while left > 0:
                    chunk = self.rfile.read(min(left, 65536))
                    if not chunk:
                        raise Stop()
                    left -= len(chunk)
            else:
                self.close_connection = True
            self.send_text(413, "request_too_large")
            return None
        data = self.rfile.read(n) if n > 0 else b""
        if len(data) < n:
            raise Stop()
        return data

    def redacted_headers(self) -> dict:
        out: dict[str, str] = {}
        for k, v in self.headers.items():
            name = canonical_header(k)
            if name in ("Authorization", "Proxy-Authorization", "Cookie"):
                v = "Bearer ***" if v.strip().lower().startswith("bearer") else "***"
            out[name] = out[name] + ", " + v if name in out else v
        return out

    # -- verbs --------------------------------------------------------------------------------------------------

    def do_POST(self):
        self.dispatch()

    def do_GET(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self) -> None:
        arrival = time.monotonic()
        wall = time.time()
        try:
            parsed = urllib.parse.urlsplit(self.path)
            path = parsed.path
            body = self.read_body()
            if body is None:
                return
            if path.startswith("/_control/"):
                self.control(path, parsed.query, body)
            elif path.startswith("/services/"):
                self.slack(path, body, arrival, wall, kind="webhook")
            elif path.startswith("/api/"):
                self.slack(path, body, arrival, wall, kind="api")
            else:
                rec = self.new_record(path, arrival, wall, None, None)
                self.send_text(404, "not_found")
                self.state.finish(rec, status=404, error="not_found", outcome="errors")
        except Stop:
            self.drop_connection()
        except (ConnectionError, OSError):
            self.close_connection = True

    # -- control API --------------------------------------------------------------------------------------------

    def control(self, path: str, query: str, body: bytes) -> None:
        st = self.state
        route = (self.command, path)
        try:
            spec = json.loads(body) if body.strip() else {}
        except ValueError:
            self.send_json(400, {"ok": False, "error": "invalid_json"})
            return
        try:
            if route == ("POST", "/_control/script"):
                self.send_json(200, st.add_rule(spec))
            elif route == ("POST", "/_control/delete"):
                # A person deleting a posted message: chat.update of it then answers message_not_found.
                ch, ts = spec.get("channel"), spec.get("ts")
                if not isinstance(ch, str) or not isinstance(ts, str):
                    raise ValueError("delete needs string channel and ts")
                self.send_json(200, {"ok": st.delete_message(channel_id(ch), ts)})
            elif route == ("GET", "/_control/script"):
                self.send_json(200, {"rules": st.rules_snapshot()})
            elif route == ("POST", "/_control/config"):
                self.send_json(200, {"ok": True, "config": st.update_config(spec)})
            elif route == ("GET", "/_control/config"):
                with st.lock:
                    view = st.config_view_locked()
                self.send_json(200, {"ok": True, "config": view})
            elif route == ("GET", "/_control/requests"):
                q = urllib.parse.parse_qs(query)
                since = int(q.get("since", ["0"])[0])
                self.send_json(200, {"requests": st.requests_snapshot(since)})
            elif route == ("GET", "/_control/stats"):
                self.send_json(200, st.stats())
            elif route == ("GET", "/_control/messages"):
                self.send_json(200, {"messages": st.messages_snapshot()})
            elif route == ("POST", "/_control/reset"):
                with st.lock:
                    st.reset_locked()
                self.send_json(200, {"ok": True})
            else:
                self.send_json(404, {"ok": False, "error": "unknown_control_endpoint"})
        except ValueError as e:
            self.send_json(400, {"ok": False, "error": "bad_request", "detail": str(e)})

    # -- Slack endpoints ----------------------------------------------------------------------------------------

    def new_record(self, path: str, arrival: float, wall: float, channel, body) -> dict:
        return self.state.record({
            "t": arrival,
            "wall_time": wall,
            "method": self.command,
            "path": path,
            "kind": "webhook" if path.startswith("/services/") else ("api" if path.startswith("/api/") else "other"),
            "channel": channel,
            "body": body,
            "headers": self.redacted_headers(),
            "status": None,
            "error": None,
            "outcome": "pending",
            "scripted_rule": None,
        })

    def parse_slack_body(self, raw: bytes, kind: str):
        """Returns (body, problem). body is a dict on success."""
        ctype = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if kind == "webhook" and ctype == "application/x-www-form-urlencoded" and not raw.startswith(b"payload="):
            ctype = "application/json"  # webhooks read a JSON body whatever the Content-Type says
        if ctype == "application/x-www-form-urlencoded":
            try:
                fields = urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            except UnicodeDecodeError:
                return None, "invalid_form_data"
            form = {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
            if kind == "webhook" and "payload" in form:  # Slack webhooks also take `payload=<json>`
                try:
                    body = json.loads(form["payload"])
                except ValueError:
                    return None, "invalid_payload"
                return (body, None) if isinstance(body, dict) else (None, "invalid_payload")
            if kind == "api":
                for k in ("blocks", "attachments"):  # sent JSON-encoded inside form fields
                    if isinstance(form.get(k), str):
                        try:
                            form[k] = json.loads(form[k])
                        except ValueError:
                            pass
            return form, None
        if not raw.strip():
            return ({}, None) if kind == "api" else (None, "invalid_payload")
        try:
            body = json.loads(raw)
        except ValueError:
            return None, ("invalid_payload" if kind == "webhook" else "invalid_json")
        if not isinstance(body, dict):
            return None, ("invalid_payload" if kind == "webhook" else "invalid_json")
        return body, None

    def slack(self, path: str, raw: bytes, arrival: float, wall: float, kind: str) -> None:
        st = self.state
        body, problem = self.parse_slack_body(raw, kind)
        form_token = None
        if isinstance(body, dict) and kind == "api" and isinstance(body.get("token"), str):
            form_token = body["token"]
            body = dict(body, token="***")
        if kind == "webhook":
            channel = path
        else:
            channel = body.get("channel") if isinstance(body, dict) and isinstance(body.get("channel"), str) else None
        recorded_body = body if body is not None else {"_raw": raw[:4096].decode("utf-8", "replace")}
        rec = self.new_record(path, arrival, wall, channel, recorded_body)

        if self.command != "POST":
            if kind == "webhook":
                self.reply_error(rec, kind, "invalid_payload", 405, headers={"Allow": "POST"})
            else:
                self.reply_error(rec, kind, "invalid_request", 405, headers={"Allow": "POST"})
            return
        if problem:
            self.reply_error(rec, kind, problem)
            return

        channels = [c for c in (channel, body.get("channel")) if isinstance(c, str)]
        script, rule_id = st.take_scripted(path, channels)
        if script is not None:
            st.finish(rec, scripted_rule=rule_id, script=script)
            if script.get("delay"):
                if st.exiting.wait(float(script["delay"])):
                    raise Stop()
            if script.get("hang"):
                st.finish(rec, outcome="hung", error="hang")
                st.exiting.wait()
                raise Stop()
            if script.get("drop"):
                st.finish(rec, outcome="dropped", error="dropped")
                raise Stop()
            if "error" in script or ("status" in script and script["status"] != 200):
                self.reply_scripted(rec, kind, script)
                return
            # {"ok": true}, {"status": 200} or a bare delay: answer normally.

        if kind == "webhook":
            self.webhook_normal(rec, path, body)
        else:
            self.api_normal(rec, path, body, form_token)

    # -- answers ------------------------------------------------------------------------------------------------

    def reply_error(self, rec: dict, kind: str, code: str, status: int | None = None, retry_after=None,
                    headers: dict | None = None, body_override: str | None = None) -> None:
        hdrs = dict(headers or {})
        if code in RATE_LIMIT_CODES or status == 429:
            status = 429 if status is None else status
            hdrs["Retry-After"] = fmt_seconds(1 if retry_after is None else retry_after)
        if kind == "webhook":
            if code in RATE_LIMIT_CODES:
                code = "rate_limited"
            if status is None:
                status = WEBHOOK_ERROR_STATUS.get(code, 400)
            if body_override is not None:
                self.send_text(status, body_override, hdrs)
            elif status == 500 or code == "rollup_error":
                self.send(status, ROLLUP_HTML, "text/html; charset=utf-8", hdrs)
            else:
                self.send_text(status, code, hdrs)
        else:
            if status is None:
                status = 200
            if code in RATE_LIMIT_CODES:
                code = "ratelimited"
            if body_override is not None:
                self.send_text(status, body_override, hdrs)
            elif status == 500:
                self.send(status, ROLLUP_HTML, "text/html; charset=utf-8", hdrs)
            else:
                self.send_json(status, {"ok": False, "error": code}, hdrs)
        outcome = "rate_limited" if status == 429 else "errors"
        self.state.finish(rec, status=status, error=code, outcome=outcome)

    def reply_scripted(self, rec: dict, kind: str, script: dict) -> None:
        status = script.get("status")
        code = script.get("error") or STATUS_DEFAULT_CODE.get(status, "internal_error")
        if status is None and kind == "api" and code == "rollup_error":
            status = 500
        self.reply_error(rec, kind, code, status, script.get("retry_after"), body_override=script.get("body"))

    def paced(self, rec: dict, kind: str, key: str) -> bool:
        """Applies the configured pacing; returns True when it answered 429."""
        over, fail, retry_after = self.state.pace(key, time.monotonic())
        if not over:
            return False
        self.state.finish(rec, over_rate_limit=True)
        if not fail:
            return False
        self.reply_error(rec, kind, "rate_limited" if kind == "webhook" else "ratelimited", 429, retry_after)
        return True

    def webhook_normal(self, rec: dict, path: str, body: dict) -> None:
        if self.paced(rec, "webhook", path):
            return
        problem = payload_problem(body, self.state.validate_blocks_enabled())
        if problem:
            self.reply_error(rec, "webhook", problem)
            return
        self.send_text(200, "ok")
        self.state.finish(rec, status=200, error=None, outcome="ok")

    def api_normal(self, rec: dict, path: str, body: dict, form_token: str | None) -> None:
        st = self.state
        method = path[len("/api/"):]
        if method not in ("chat.postMessage", "chat.update", "auth.test"):
            self.send_json(404, {"ok": False, "error": "unknown_method"})
            st.finish(rec, status=404, error="unknown_method", outcome="errors")
            return
        auth = self.headers.get("Authorization")
        token = None
        if auth is not None:
            parts = auth.strip().split(None, 1)
            token = parts[1].strip() if len(parts) == 2 and parts[0].lower() == "bearer" else ""
        elif form_token is not None:
            token = form_token
        if token is None or token == "":
            self.reply_error(rec, "api", "not_authed")
            return
        if token != st.token():
            self.reply_error(rec, "api", "invalid_auth")
            return
        if method == "auth.test":
            self.send_json(200, {"ok": True, "team": "fake", "user": "router", "team_id": "T0FAKE",
                                 "user_id": "U0ROUTER"})
            st.finish(rec, status=200, outcome="ok")
            return
        channel = body.get("channel")
        if not isinstance(channel, str) or not channel:
            self.reply_error(rec, "api", "channel_not_found")
            return
        if self.paced(rec, "api", channel):
            return
        if method == "chat.postMessage":
            problem = payload_problem(body, st.validate_blocks_enabled())
            if problem:
                self.reply_error(rec, "api", problem)
                return
            ts = st.next_ts()
            cid = channel_id(channel)
            thread_ts = body.get("thread_ts")
            if thread_ts is not None and st.message(cid, thread_ts) is None:
                self.reply_error(rec, "api", "thread_not_found")
                return
            msg = {"type": "message", "user": "U0ROUTER", "bot_id": "B0FAKE", "text": body.get("text", ""), "ts": ts}
            for k in ("blocks", "attachments", "thread_ts", "reply_broadcast"):
                if k in body:
                    msg[k] = body[k]
            st.store_message(cid, ts, copy.deepcopy(msg))
            self.send_json(200, {"ok": True, "channel": cid, "ts": ts, "message": msg})
            st.finish(rec, status=200, outcome="ok", ts=ts)
            return
        # chat.update
        ts = body.get("ts")
        if not isinstance(ts, str) or not ts:
            self.reply_error(rec, "api", "message_not_found")
            return
        problem = payload_problem(body, st.validate_blocks_enabled())
        if problem:
            self.reply_error(rec, "api", problem)
            return
        fields = {k: body[k] for k in ("text", "blocks", "attachments") if k in body}
        cid = channel_id(channel)
        msg = st.update_message(cid, ts, fields)
        if msg is None:
            self.reply_error(rec, "api", "message_not_found")
            return
        msg.pop("edited_count", None)
        self.send_json(200, {"ok": True, "channel": cid, "ts": ts, "text": msg.get("text", ""), "message": msg})
        st.finish(rec, status=200, outcome="ok", ts=ts)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Fake Slack for tests")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: ephemeral)")
    ap.add_argument("--token", default=DEFAULT_TOKEN, help="Web API bot token to accept")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    ap.add_argument("--no-stdin-watch", action="store_true", help="do not exit when stdin reaches EOF")
    args = ap.parse_args(argv)

    DEFAULT_HOLDER["token"] = args.token
    state = State()
    Handler.state = state
    Handler.verbose = args.verbose
    httpd = Server(("127.0.0.1", args.port), Handler)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    if not args.no_stdin_watch:
        def watch_stdin():
            try:
                while True:
                    chunk = os.read(sys.stdin.fileno(), 4096)
                    if not chunk:
                        break
            except OSError:
                pass
            stop.set()

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()

    serve = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="serve", daemon=True)
    serve.start()
    sys.stdout.write(json.dumps({"port": httpd.server_address[1]}) + "\n")
    sys.stdout.flush()

    while not stop.wait(0.5):
        pass
    state.exiting.set()  # release hung and delayed requests (they close their connections with no answer)
    httpd.shutdown()
    httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
