#!/usr/bin/env python3
"""A fake Lambda Runtime API (2018-06-01) that starts a bootstrap, feeds it events and times it.

Standard library only. For the start-up benchmark (scripts/bench-lambda.sh) and binary-level tests:

    runtime_api.py --bootstrap PATH --events EVENTS.jsonl [--cold-starts N] [--deadline-ms MS] [--env K=V ...]

For each cold start: binds 127.0.0.1 on an ephemeral port, starts the bootstrap with AWS_LAMBDA_RUNTIME_API pointing
at it, records the time from spawning the process to its first GET /runtime/invocation/next (init), hands out every
event of EVENTS.jsonl (one JSON document per line) with the usual headers, and records for each the time from sending
the event to receiving its /response or /error POST. Then stops the process (SIGTERM, then SIGKILL) and prints one
JSON object: {"init_ms": [...], "invocations": [{"ms":..,"kind":"response"|"error","body":..,"errorType":..}],
"init_error": ..., "exit_code": ..., "log": [...]}. Every wait is bounded (--timeout seconds per step).
"""

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, events, deadline_ms):
        self.events = queue.Queue()
        for e in events:
            self.events.put(e)
        self.deadline_ms = deadline_ms
        self.first_next = threading.Event()
        self.first_next_at = None
        self.sent_at = {}
        self.results = queue.Queue()
        self.init_error = None
        self.init_error_event = threading.Event()
        self.stopping = threading.Event()


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def reply(self, code, body=b"", headers=None):
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self):
            if not self.path.endswith("/2018-06-01/runtime/invocation/next"):
                return self.reply(404)
            if state.first_next_at is None:
                state.first_next_at = time.perf_counter()
                state.first_next.set()
            while True:
                if state.stopping.is_set():
                    return self.reply(500, b'{"errorMessage":"stopping"}')
                try:
                    event = state.events.get(timeout=0.05)
                    break
                except queue.Empty:
                    continue
            rid = str(uuid.uuid4())
            body = event.encode()
            headers = {
                "Lambda-Runtime-Aws-Request-Id": rid,
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + state.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:111122223333:function:router",
                "Lambda-Runtime-Trace-Id": "Root=1-5e1b4151-" + rid.replace("-", "")[:24] + ";Sampled=1",
                "Content-Type": "application/json",
            }
            state.sent_at[rid] = time.perf_counter()
            self.reply(200, body, headers)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            now = time.perf_counter()
            parts = self.path.split("/")
            if self.path.endswith("/runtime/init/error"):
                state.init_error = {
                    "header": self.headers.get("Lambda-Runtime-Function-Error-Type"),
                    "body": body.decode("utf-8", "replace"),
                }
                state.init_error_event.set()
                return self.reply(202)
            if len(parts) >= 6 and parts[-3] == "invocation" and parts[-1] in ("response", "error"):
                rid = parts[-2]
                if rid not in state.sent_at:
                    return self.reply(400, b'{"errorType":"InvalidRequestID"}')
                sent = state.sent_at.pop(rid)
                state.results.put({
                    "ms": (now - sent) * 1000,
                    "kind": parts[-1],
                    "body": body.decode("utf-8", "replace"),
                    "errorType": self.headers.get("Lambda-Runtime-Function-Error-Type"),
                })
                return self.reply(202)
            self.reply(404)

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A bootstrap stopped during its long poll resets the connection: expected.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


def run_once(bootstrap, events, env, deadline_ms, timeout):
    state = State(events, deadline_ms)
    server = QuietServer(("127.0.0.1", 0), make_handler(state))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    child_env = dict(os.environ)
    child_env.update(env)
    child_env["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:%d" % server.server_address[1]
    log_lines = []
    start = time.perf_counter()
    proc = subprocess.Popen([bootstrap], env=child_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=os.path.dirname(os.path.abspath(bootstrap)))
    pump = threading.Thread(target=lambda: [log_lines.append(l.decode("utf-8", "replace").rstrip("\n")) for l in proc.stdout],
                            daemon=True)
    pump.start()
    out = {"init_ms": None, "invocations": [], "init_error": None, "exit_code": None}
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if state.first_next.wait(0.01) or state.init_error_event.is_set() or proc.poll() is not None:
                break
        if state.first_next_at is not None:
            out["init_ms"] = (state.first_next_at - start) * 1000
        for _ in events:
            if state.first_next_at is None:
                break
            try:
                out["invocations"].append(state.results.get(timeout=timeout))
            except queue.Empty:
                break
        if state.init_error_event.is_set():
            out["init_error"] = state.init_error
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
    finally:
        state.stopping.set()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        out["exit_code"] = proc.returncode
        pump.join(timeout=2)
        server.shutdown()
        server.server_close()
    out["log"] = log_lines
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--cold-starts", type=int, default=1)
    ap.add_argument("--deadline-ms", type=int, default=30000)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--env", action="append", default=[])
    args = ap.parse_args()
    with open(args.events) as f:
        events = [line.strip() for line in f if line.strip()]
    env = dict(kv.split("=", 1) for kv in args.env)
    runs = [run_once(args.bootstrap, events, env, args.deadline_ms, args.timeout) for _ in range(max(1, args.cold_starts))]
    last = runs[-1]
    last["init_ms"] = [r["init_ms"] for r in runs]
    last["invocations_per_run"] = [r["invocations"] for r in runs]
    json.dump(last, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
