#!/usr/bin/env python3
"""Generates a synthetic GuardDuty S3 export for `router replay` benchmarks, from the project's own findings
(examples/*.json and Tests/Fixtures/findings/*.json, their `detail`):

  OUT/AWSLogs/<account>/GuardDuty/<region>/YYYY/MM/DD/<uuid>.jsonl.gz

gzip-compressed JSON Lines, one bare camelCase finding per line, as GuardDuty exports them: FINDINGS distinct findings
(default 100,000) with about UPDATES events each (default 10: the same id, a higher service.count, a later updatedAt,
15 minutes to 6 hours apart, now and then a higher severity), spread over DAYS days (default 90) and ACCOUNTS accounts
(default 20) in two regions, SAMPLE_PERCENT % of them sample findings (default 1). Each event lands in the file of its
account, region, day and 6-hour export window; lines within a file are shuffled (the export's order within a day is
not chronological). No archived findings (the export leaves them out). Deterministic (SEED).

Usage: gen-export.py OUT [--findings N] [--updates N] [--days N] [--accounts N] [--sample-percent P] [--seed S]
Prints the number of lines, files and bytes.
"""
import argparse
import glob
import gzip
import json
import os
import random
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--findings", type=int, default=100_000)
ap.add_argument("--updates", type=float, default=10)
ap.add_argument("--days", type=int, default=90)
ap.add_argument("--accounts", type=int, default=20)
ap.add_argument("--sample-percent", type=float, default=1.0)
ap.add_argument("--seed", type=int, default=7)
args = ap.parse_args()

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
templates = []
for path in sorted(glob.glob(os.path.join(root, "examples", "*.json")) + glob.glob(os.path.join(root, "Tests", "Fixtures", "findings", "*.json"))):
    try:
        event = json.load(open(path))
    except ValueError:
        continue
    if not isinstance(event, dict) or event.get("detail-type") != "GuardDuty Finding":
        continue
    d = event["detail"]
    if not isinstance(d.get("type"), str) or ":" not in d["type"] or not isinstance(d.get("severity"), (int, float)):
        continue
    severity = float(d["severity"])
    service = d.setdefault("service", {})
    service["archived"] = False
    service.pop("additionalInfo", None)
    service["count"] = "__COUNT__"
    service["additionalInfo"] = "__INFO__"
    d["id"] = "__ID__"
    d["accountId"] = "__ACCOUNT__"
    d["region"] = "__REGION__"
    d["createdAt"] = "__CREATED__"
    d["updatedAt"] = "__UPDATED__"
    d["severity"] = "__SEVERITY__"
    templates.append((json.dumps(d, separators=(",", ":")), severity))
if not templates:
    sys.exit("gen-export: no templates found")

rng = random.Random(args.seed)
accounts = ["%012d" % (100000000000 + 7919 * i) for i in range(args.accounts)]
regions = ["us-east-1", "eu-west-1"]
start = int(time.mktime((2026, 1, 1, 0, 0, 0, 0, 0, 0)) - time.timezone)
span = args.days * 86400
NOT_SAMPLE = json.dumps({"value": "{}", "type": "default"}, separators=(",", ":"))
SAMPLE = json.dumps({"value": '{"sample":true}', "type": "default"}, separators=(",", ":"))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % rng.randrange(1000)


# Events as small tuples (the lines are built when their file is written): key -> [(template, id, account, region,
# created, updated, count, severity, sample)].
files = {}
lines = 0
for n in range(args.findings):
    template = rng.randrange(len(templates))
    severity = templates[template][1]
    account = accounts[rng.randrange(len(accounts))]
    region = regions[rng.randrange(len(regions))]
    fid = "%032x" % rng.getrandbits(128)
    created = start + rng.randrange(span)
    updates = max(1, int(rng.gauss(args.updates, 2)))
    sample = rng.random() * 100 < args.sample_percent
    t = created
    sev = severity
    for k in range(updates):
        if k > 0:
            t += rng.randrange(900, 6 * 3600)
            if rng.random() < 0.03 and sev < 8.9:
                sev = min(8.9, sev + 1.0)
        if t >= start + span:
            break
        key = (account, region, t // 86400, (t % 86400) // 21600)
        files.setdefault(key, []).append((template, fid, account, region, created, t, k + 1, sev, sample))
        lines += 1

nbytes = 0
nfiles = len(files)
for (account, region, day, window) in sorted(files):
    chunk = files.pop((account, region, day, window))
    rng.shuffle(chunk)
    y, m, d = time.gmtime(day * 86400)[:3]
    folder = os.path.join(args.out, "AWSLogs", account, "GuardDuty", region, "%04d" % y, "%02d" % m, "%02d" % d)
    os.makedirs(folder, exist_ok=True)
    name = "%08x-%04x-4%03x-8%03x-%012x.jsonl.gz" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12), rng.getrandbits(48))
    out = []
    for (template, fid, acct, reg, created, t, count, sev, sample) in chunk:
        text = templates[template][0]
        out.append(text.replace('"__ID__"', '"' + fid + '"').replace('"__ACCOUNT__"', '"' + acct + '"')
                   .replace('"__REGION__"', '"' + reg + '"').replace('"__CREATED__"', '"' + iso(created) + '"')
                   .replace('"__INFO__"', SAMPLE if sample else NOT_SAMPLE)
                   .replace('"__UPDATED__"', '"' + iso(t) + '"').replace('"__COUNT__"', str(count))
                   .replace('"__SEVERITY__"', repr(sev)))
    data = ("\n".join(out) + "\n").encode()
    nbytes += len(data)
    with gzip.open(os.path.join(folder, name), "wb", compresslevel=6) as f:
        f.write(data)
print(f"{lines} lines ({args.findings} findings) in {nfiles} files, {nbytes} bytes uncompressed, {len(templates)} templates")
