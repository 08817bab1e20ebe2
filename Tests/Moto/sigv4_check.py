"""A loopback endpoint that checks AWS SigV4 signatures independently (botocore, from the moto[server] venv).

Usage: sigv4_check.py ACCESS_KEY SECRET_KEY
Every POST is answered 200 with a JSON object describing the request as received:
  {"valid": bool, "why": str, "signedHeaders": [..], "scope": "<date>/<region>/<service>/aws4_request",
   "accessKey": str, "securityToken": str|null, "target": str|null, "contentType": str|null, "body": str}
"valid" is true when the Authorization header's signature equals the one botocore computes, for the same
credentials, over the headers the request says it signed (the session token comes from the request itself).
Prints "PORT <n>" once it listens on 127.0.0.1; exits when its standard input closes.
"""
import http.server
import json
import re
import sys
import threading

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, *"
    r"SignedHeaders=([a-z0-9;-]+), *Signature=([0-9a-f]{64})$"
)


def check(method, path, headers, body, access_key=None, secret_key=None):
    """Checks one request's SigV4 signature against the given credentials (default: the command line's)."""
    if access_key is None:
        access_key, secret_key = sys.argv[1], sys.argv[2]
    auth = headers.get("authorization", "")
    m = AUTH.match(auth)
    out = {
        "valid": False, "why": "", "signedHeaders": [], "scope": None, "accessKey": None,
        "securityToken": headers.get("x-amz-security-token"), "target": headers.get("x-amz-target"),
        "contentType": headers.get("content-type"), "body": body.decode("utf-8", "replace"),
    }
    if not m:
        out["why"] = "no SigV4 Authorization header"
        return out
    key, date, region, service, signed, signature = m.groups()
    out["accessKey"] = key
    out["scope"] = "%s/%s/%s/aws4_request" % (date, region, service)
    out["signedHeaders"] = signed.split(";")
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(date):
        out["why"] = "x-amz-date does not match the credential scope"
        return out
    missing = [h for h in out["signedHeaders"] if h not in headers]
    if missing:
        out["why"] = "signed headers not sent: %s" % missing
        return out
    request = AWSRequest(
        method=method, url="http://%s%s" % (headers["host"], path), data=body,
        headers={h: headers[h] for h in out["signedHeaders"]},
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret_key, out["securityToken"]), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if key != access_key:
        out["why"] = "another access key"
    elif signer.signed_headers(signer.headers_to_sign(request)) != signed:
        out["why"] = "botocore would sign other headers: %s" % signer.signed_headers(signer.headers_to_sign(request))
    elif expected != signature:
        out["why"] = "signature mismatch"
    else:
        out["valid"] = True
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v.strip() for k, v in self.headers.items()}
        try:
            answer = check("POST", self.path, headers, body)
        except Exception as e:  # report, never crash the endpoint
            answer = {"valid": False, "why": "checker error: %s" % type(e).__name__}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()
