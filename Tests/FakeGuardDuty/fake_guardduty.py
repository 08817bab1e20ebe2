"""A fake GuardDuty (the REST API calls the router's Slack actions make) on loopback, checking every request's SigV4
signature with botocore (Tests/Moto/sigv4_check.py). PyPI moto implements CreateFilter but not ArchiveFindings,
UnarchiveFindings or UpdateFindingsFeedback, so this one does all four the way GuardDuty answers them.

Usage: fake_guardduty.py ACCESS_KEY SECRET_KEY [DETECTOR_ID]
Prints "PORT <n>" once it listens on 127.0.0.1; exits when its standard input closes.

  GET  /detector                                  {"detectorIds": [DETECTOR_ID]}
  POST /detector/{id}/findings/archive            {"findingIds": [...]}  -> {}
  POST /detector/{id}/findings/unarchive          {"findingIds": [...]}  -> {}
  POST /detector/{id}/findings/feedback           {"findingIds", "feedback": USEFUL|NOT_USEFUL, "comments"} -> {}
  POST /detector/{id}/filter                      {"name", "action": ARCHIVE, "findingCriteria", ...} -> {"name"}
                                                  a second filter of one name: 400 BadRequestException
Another detector id: 400 BadRequestException. A bad signature: 403 InvalidSignatureException.
Control (not signed, not recorded):
  POST /_fail   {"operation": "archive"|"unarchive"|"feedback"|"filter"|"list", "status": 403,
                 "type": "AccessDeniedException", "message": "...", "times": N (default: until cleared)}
                 {"operation": X, "clear": true} clears it; {"delay": seconds} delays every answer.
  GET  /_log    every signed request: {"method", "path", "body", "valid", "why", "scope", "securityToken", "at"}
  GET  /_state  {"archived": [...], "feedback": {...}, "filters": {...}}
"""
import http.server
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Moto"))
from sigv4_check import check  # noqa: E402

access_key, secret_key = sys.argv[1], sys.argv[2]
detector = sys.argv[3] if len(sys.argv) > 3 else "d0123456789abcdef0123456789abcdef"
lock = threading.Lock()
log = []
failures = {}
delay = [0.0]
state = {"archived": set(), "feedback": {}, "filters": {}}
ROUTE = re.compile(r"^/detector/([^/]+)/(findings/archive|findings/unarchive|findings/feedback|filter)$")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def answer(self, status, obj, error_type=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, error_type, message):
        self.answer(status, {"message": message, "__type": error_type}, error_type)

    def log_message(self, *args):
        pass

    def signed(self, method):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v.strip() for k, v in self.headers.items()}
        try:
            verdict = check(method, self.path, headers, body, access_key, secret_key)
        except Exception as e:
            verdict = {"valid": False, "why": "checker error: %s" % type(e).__name__}
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = {"_raw": body.decode("utf-8", "replace")}
        entry = {"method": method, "path": self.path, "body": parsed, "valid": verdict["valid"], "why": verdict["why"],
                 "scope": verdict.get("scope"), "securityToken": verdict.get("securityToken"), "at": time.time()}
        with lock:
            log.append(entry)
        if delay[0]:
            time.sleep(delay[0])
        return verdict, parsed

    def scripted(self, operation):
        with lock:
            f = failures.get(operation)
            if not f:
                return False
            if f.get("times") is not None:
                f["times"] -= 1
                if f["times"] <= 0:
                    del failures[operation]
        self.error(f.get("status", 400), f.get("type", "BadRequestException"), f.get("message", "scripted failure"))
        return True

    def do_GET(self):
        if self.path == "/_log":
            with lock:
                return self.answer(200, list(log))
        if self.path == "/_state":
            with lock:
                return self.answer(200, {"archived": sorted(state["archived"]), "feedback": state["feedback"],
                                         "filters": state["filters"]})
        verdict, _ = self.signed("GET")
        if not verdict["valid"]:
            return self.error(403, "InvalidSignatureException", "signature: " + verdict["why"])
        if self.path == "/detector":
            if self.scripted("list"):
                return
            return self.answer(200, {"detectorIds": [detector]})
        self.error(404, "NotFoundException", "no such resource")

    def do_POST(self):
        if self.path == "/_fail":
            spec = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            with lock:
                if "delay" in spec:
                    delay[0] = float(spec["delay"])
                op = spec.get("operation")
                if op and spec.get("clear"):
                    failures.pop(op, None)
                elif op:
                    failures[op] = spec
            return self.answer(200, {"ok": True})
        verdict, body = self.signed("POST")
        if not verdict["valid"]:
            return self.error(403, "InvalidSignatureException", "signature: " + verdict["why"])
        m = ROUTE.match(self.path)
        if not m:
            return self.error(404, "NotFoundException", "no such resource")
        detector_id, what = m.groups()
        operation = {"findings/archive": "archive", "findings/unarchive": "unarchive", "findings/feedback": "feedback",
                     "filter": "filter"}[what]
        if self.scripted(operation):
            return
        if detector_id != detector:
            return self.error(400, "BadRequestException",
                              "The request is rejected because the input detectorId is not owned by the current account.")
        if not isinstance(body, dict):
            return self.error(400, "BadRequestException", "The request is rejected because the JSON could not be processed.")
        with lock:
            if operation in ("archive", "unarchive", "feedback"):
                ids = body.get("findingIds")
                if not isinstance(ids, list) or not ids:
                    return self.error(400, "BadRequestException", "findingIds is required")
                if operation == "archive":
                    state["archived"].update(ids)
                elif operation == "unarchive":
                    state["archived"].difference_update(ids)
                else:
                    if body.get("feedback") not in ("USEFUL", "NOT_USEFUL"):
                        return self.error(400, "BadRequestException", "feedback must be USEFUL or NOT_USEFUL")
                    for i in ids:
                        state["feedback"][i] = body["feedback"]
                return self.answer(200, {})
            name = body.get("name", "")
            if not re.match(r"^[A-Za-z0-9_.-]{3,64}$", name) or body.get("action") != "ARCHIVE" \
                    or not isinstance(body.get("findingCriteria", {}).get("criterion"), dict):
                return self.error(400, "BadRequestException", "The request is rejected because an invalid or out-of-range value is specified as an input parameter.")
            if name in state["filters"]:
                return self.error(400, "BadRequestException", "The request is rejected because a filter with the same name already exists.")
            state["filters"][name] = body
            return self.answer(200, {"name": name})


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("PORT %d" % server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
