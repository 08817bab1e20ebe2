"""A loopback endpoint answering POSTs from a script, for DynamoDB failure cases moto cannot produce.

Usage: scripted_dynamodb.py SCRIPT.json
SCRIPT.json is a list of answers {"status": int, "body": str, "delay": seconds (optional)}, used in order; the
last one repeats. GET /log answers the X-Amz-Target of every POST received so far, as a JSON list.
Prints "PORT <n>" once it listens on 127.0.0.1; exits when its standard input closes.
"""
import http.server
import json
import sys
import threading
import time

with open(sys.argv[1]) as f:
    script = json.load(f)
lock = threading.Lock()
targets = []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock:
            data = json.dumps(targets).encode()
        self.answer(200, data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            n = len(targets)
            targets.append(self.headers.get("X-Amz-Target"))
        step = script[min(n, len(script) - 1)]
        if step.get("delay"):
            time.sleep(step["delay"])
        self.answer(step["status"], step["body"].encode())

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("PORT %d" % server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
