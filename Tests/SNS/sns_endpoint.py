"""A loopback HTTP endpoint for the SNS tests (standard library only).

Usage: sns_endpoint.py DIR
- GET /<name> serves DIR/serve/<name> (signing certificates for SNSVerifier.loopbackHTTPFetch).
- POST /<anything> stores the body in DIR/posts/<n>.json and the request headers in DIR/posts/<n>.headers
  (written to a temporary name first, then renamed, so a reader never sees half a file), then answers 200.
Prints "PORT <n>" on its first line once it listens on 127.0.0.1 (port chosen by the system).
Exits when its standard input closes (the test process ended), so it never outlives the test.
"""
import http.server
import os
import sys
import threading

root = sys.argv[1]
posts = os.path.join(root, "posts")
served = os.path.join(root, "serve")
os.makedirs(posts, exist_ok=True)
os.makedirs(served, exist_ok=True)
lock = threading.Lock()
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        name = os.path.basename(self.path.split("?", 1)[0])
        path = os.path.join(served, name)
        if not name or not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with lock:
            count[0] += 1
            n = count[0]
        base = os.path.join(posts, "%04d" % n)
        with open(base + ".headers.tmp", "w") as f:
            for k, v in self.headers.items():
                f.write("%s: %s\n" % (k.lower(), v))
        os.rename(base + ".headers.tmp", base + ".headers")
        with open(base + ".tmp", "wb") as f:
            f.write(body)
        os.rename(base + ".tmp", base + ".json")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("PORT %d" % server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
