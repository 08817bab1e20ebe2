#!/usr/bin/env python3
"""End-to-end scenarios of the packaged Lambda (dist/router-lambda.zip) on PyPI `ministack`, an independent Lambda
emulator that runs provided.al2023 bootstraps as local processes against its own Runtime API.

    lambda_e2e.py SCENARIO --zip ZIP --webhook URL [--timeout SECONDS]

Run with the Python of the venv ministack is installed in (it brings boto3). Starts ministack on a free loopback
port in its own process group, runs one scenario, prints one JSON object with what it saw, and always stops
ministack and every process it started (the function's bootstrap included). Scenarios:

  sync        RequestResponse invoke of a GuardDuty event: FunctionError and payload.
  init-error  the same zip with a broken rule file: what the invoke reports.
  sqs         an SQS queue (VisibilityTimeout 4 s, redrive to a DLQ after 2 receives) mapped to the function with
              ReportBatchItemFailures; two findings and one poison message: what reaches the DLQ, what stays.
  async       Event invoke with MaximumRetryAttempts 2 and an SQS on-failure destination (Slack is expected down):
              the on-failure record and the request ids of the attempts seen in the function's log.
"""

import argparse
import base64
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGION = "us-east-1"
# The log tails (LogType=Tail) of the synchronous invokes.
INVOKE_LOGS = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ministack:
    def __init__(self, workdir):
        self.port = free_port()
        self.log_path = os.path.join(workdir, "ministack.log")
        env = dict(os.environ)
        env.update({
            "BIND_HOST": "127.0.0.1", "GATEWAY_PORT": str(self.port), "LAMBDA_EXECUTOR": "local",
            # Async retries after 1 s and 2 s (AWS: about 1 and 2 minutes).
            "LAMBDA_ASYNC_RETRY_BASE_SECONDS": "1",
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
        })
        exe = os.path.join(os.path.dirname(sys.executable), "ministack")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([exe], env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=workdir, start_new_session=True)
        self.endpoint = "http://127.0.0.1:%d" % self.port
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("ministack exited: " + self.log_tail())
            try:
                urllib.request.urlopen(self.endpoint + "/_ministack/health", timeout=1).read()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError("ministack did not start within 30 s: " + self.log_tail())
                time.sleep(0.1)

    def client(self, service):
        import boto3
        from botocore.config import Config
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id="test",
                            aws_secret_access_key="test",
                            config=Config(retries={"max_attempts": 1}, read_timeout=60, connect_timeout=5))

    def log_text(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_tail(self, n=4000):
        return self.log_text()[-n:]

    def stop(self):
        # The whole group: ministack and the bootstraps it started.
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()


def event(finding_id):
    with open(os.path.join(ROOT, "examples/high-crypto-mining-ec2.json")) as f:
        e = json.load(f)
    e["detail"]["id"] = finding_id
    return e


def broken_rules_zip(data):
    """The package with its rules replaced by one that does not load (stored uncompressed: quick to write)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            if not info.filename.startswith("rules/"):
                copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                copy.external_attr = info.external_attr
                dst.writestr(copy, src.read(info.filename))
        bad = zipfile.ZipInfo("rules/50-broken.lua", date_time=(2020, 1, 1, 0, 0, 0))
        bad.external_attr = 0o100644 << 16
        dst.writestr(bad, 'return { route = function(f)\n  return { channel = "#x"\nend\n')
    return out.getvalue()


def create_function(ms, name, code, webhook, data_dir, timeout=10):
    lam = ms.client("lambda")
    lam.create_function(
        FunctionName=name, Runtime="provided.al2023", Role="arn:aws:iam::000000000000:role/router", Handler="bootstrap",
        Code={"ZipFile": code}, Timeout=timeout, MemorySize=128,
        Environment={"Variables": {"SLACK_WEBHOOK_URL": webhook, "ROUTER_DATA_DIR": data_dir}})
    deadline = time.monotonic() + 30
    while lam.get_function(FunctionName=name)["Configuration"].get("State") != "Active":
        if time.monotonic() > deadline:
            raise RuntimeError("function did not become Active")
        time.sleep(0.1)
    return lam


def invoke(lam, name, payload):
    t = time.monotonic()
    r = lam.invoke(FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(payload).encode(), LogType="Tail")
    body = r["Payload"].read().decode("utf-8", "replace")
    INVOKE_LOGS.append(base64.b64decode(r.get("LogResult") or "").decode("utf-8", "replace"))
    return {"functionError": r.get("FunctionError"), "payload": body, "seconds": time.monotonic() - t}


def queue(ms, name, attributes=None):
    sqs = ms.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn


def drain_queue(sqs, url):
    out = []
    for _ in range(5):
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            break
        for m in msgs:
            out.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def wait_for(predicate, timeout, step=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(step)
    return predicate()


def run(scenario, args, ms, workdir):
    code = open(args.zip, "rb").read()
    name = "router-" + uuid.uuid4().hex[:8]
    data_dir = os.path.join(workdir, "data-" + name)
    result = {"scenario": scenario}
    if scenario == "sync":
        lam = create_function(ms, name, code, args.webhook, data_dir)
        result["first"] = invoke(lam, name, event("5a1e0000000000000000000000000001"))
        result["again"] = invoke(lam, name, event("5a1e0000000000000000000000000001"))
        result["notAFinding"] = invoke(lam, name, {"hello": "world"})
    elif scenario == "init-error":
        lam = create_function(ms, name, broken_rules_zip(code), args.webhook, data_dir)
        result["first"] = invoke(lam, name, event("1e000000000000000000000000000002"))
    elif scenario == "sqs":
        # As AWS requires, the queue's visibility timeout is at least the function's timeout.
        lam = create_function(ms, name, code, args.webhook, data_dir, timeout=3)
        sqs, dlq_url, dlq_arn = queue(ms, name + "-dlq")
        _, src_url, src_arn = queue(ms, name + "-src", {
            "VisibilityTimeout": "4",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})
        bodies = [json.dumps(event("5c500000000000000000000000000001")), "poison: not JSON",
                  json.dumps(event("5c500000000000000000000000000002"))]
        sent = [sqs.send_message(QueueUrl=src_url, MessageBody=b)["MessageId"] for b in bodies]
        result["sentIds"] = sent
        mapping = lam.create_event_source_mapping(
            EventSourceArn=src_arn, FunctionName=name, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
        dead = []

        def poison_dead():
            dead.extend(drain_queue(sqs, dlq_url))
            return dead
        wait_for(poison_dead, args.timeout / 2)
        # Anything else that would go to the DLQ gets a few more visibility timeouts to show up.
        time.sleep(3)
        dead.extend(drain_queue(sqs, dlq_url))
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
        attrs = sqs.get_queue_attributes(QueueUrl=src_url, AttributeNames=["All"])["Attributes"]
        result["dlqBodies"] = dead
        result["sourceVisible"] = int(attrs.get("ApproximateNumberOfMessages", "0"))
        result["sourceInFlight"] = int(attrs.get("ApproximateNumberOfMessagesNotVisible", "0"))
        log = ms.log_text()
        result["batches"] = [json.loads(m) for m in re.findall(r'(\{[^\n]*"message":"SQS batch handled"[^\n]*\})', log)]
    elif scenario == "async":
        lam = create_function(ms, name, code, args.webhook, data_dir, timeout=5)
        sqs, dest_url, dest_arn = queue(ms, name + "-onfailure")
        lam.put_function_event_invoke_config(
            FunctionName=name, MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": dest_arn}})
        t = time.monotonic()
        r = lam.invoke(FunctionName=name, InvocationType="Event",
                       Payload=json.dumps(event("a5e00000000000000000000000000001")).encode())
        result["status"] = r["StatusCode"]
        got = wait_for(lambda: drain_queue(sqs, dest_url), args.timeout - 10)
        result["seconds"] = time.monotonic() - t
        result["onFailure"] = [json.loads(b) for b in got]
        log = ms.log_text()
        failed = set()
        for line in log.splitlines():
            i = line.find("{")
            if '"message":"invocation failed"' in line and i >= 0:
                try:
                    failed.add(json.loads(line[i:])["requestId"])
                except (ValueError, KeyError):
                    pass
        result["failedRequestIds"] = sorted(failed)
    else:
        raise SystemExit("unknown scenario " + scenario)
    # The function's own log lines (JSON objects with a timestamp) as ministack relayed them or returned them.
    text = ms.log_text() + "\n" + "\n".join(INVOKE_LOGS)
    ours = [line[line.index('{"timestamp"'):] for line in text.splitlines() if '{"timestamp"' in line]
    result["functionLogLines"] = len(ours)
    secret = args.webhook.rstrip("/").rsplit("/", 1)[-1]
    result["webhookSecretInFunctionLog"] = any(secret in line for line in ours)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--zip", required=True)
    ap.add_argument("--webhook", required=True)
    ap.add_argument("--timeout", type=float, default=90)
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="router-ministack-")
    ms = None
    try:
        ms = Ministack(workdir)
        result = run(args.scenario, args, ms, workdir)
    except Exception as e:
        result = {"scenario": args.scenario, "exception": repr(e), "ministackLog": ms.log_tail() if ms else ""}
    finally:
        if ms:
            ms.stop()
        subprocess.run(["rm", "-rf", workdir])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
