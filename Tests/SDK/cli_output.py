#!/usr/bin/env python3
"""What `aws guardduty get-findings` / `aws securityhub get-findings` print for the findings of some EventBridge events:
the findings as the service puts them on the wire (the events' `detail`, or `detail.findings` for Security Hub) in a
GetFindings response body, parsed by botocore's own response parser (as the CLI does: PascalCase member names,
timestamps as datetimes) and printed the way the CLI prints JSON (datetimes in ISO 8601, `cli_timestamp_format`
iso8601). An independent source of the SDK shape for the router's tests.

Usage: cli_output.py guardduty|securityhub EVENT.json... > OUTPUT.json   (needs botocore)
With --unmodeled FILE, also writes {"<index>": ["path", ...]}: the members of each finding the service model does not
know, which botocore (and so the CLI) drops.
"""
import datetime
import json
import sys

import botocore.session
import botocore.utils
from botocore.parsers import PROTOCOL_PARSERS


def unmodeled(value, shape, path, found):
    """Paths of `value` (wire names) that `shape` has no member for."""
    if shape.type_name == "structure" and isinstance(value, dict):
        wire = {m.serialization.get("name", name): m for name, m in shape.members.items()}
        for k, v in value.items():
            if k in wire:
                unmodeled(v, wire[k], f"{path}.{k}", found)
            else:
                found.append(f"{path}.{k}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            unmodeled(v, shape.member, f"{path}[{i}]", found)
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            unmodeled(v, shape.value, f"{path}.{k}", found)


def main():
    args = sys.argv[1:]
    unmodeled_file = None
    if "--unmodeled" in args:
        k = args.index("--unmodeled")
        unmodeled_file = args[k + 1]
        del args[k : k + 2]
    service, paths = args[0], args[1:]
    items = []
    for p in paths:
        with open(p) as f:
            event = json.load(f)
        if service == "guardduty":
            items.append(event["detail"])
        else:
            items.extend(event["detail"]["findings"])
    session = botocore.session.get_session()
    model = session.get_service_model(service)
    operation = model.operation_model("GetFindings")
    wire_key = "findings" if service == "guardduty" else "Findings"
    body = json.dumps({wire_key: items}).encode()
    # Some events carry epoch milliseconds where the model says seconds (GuardDuty's API answers seconds); read them as
    # the seconds they mean rather than fail (the router reads both).
    def timestamp(value):
        if isinstance(value, (int, float)) and value > 1e11:
            value = value / 1000
        return botocore.utils.parse_timestamp(value)

    parser = PROTOCOL_PARSERS[model.metadata["protocol"]](timestamp_parser=timestamp)
    parsed = parser.parse({"status_code": 200, "headers": {}, "body": body}, operation.output_shape)
    parsed.pop("ResponseMetadata", None)

    def default(o):
        if isinstance(o, datetime.datetime):
            return o.isoformat()
        raise TypeError(type(o))

    if unmodeled_file:
        element = operation.output_shape.members["Findings"].member
        report = {}
        for i, item in enumerate(items):
            found = []
            unmodeled(item, element, "", found)
            if found:
                report[str(i)] = found
        with open(unmodeled_file, "w") as f:
            json.dump(report, f)

    json.dump(parsed, sys.stdout, indent=4, default=default)
    sys.stdout.write("\n")


main()
