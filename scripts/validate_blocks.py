#!/usr/bin/env python3
"""Validate Slack message payloads offline.

Reads JSON Lines from the files given (or standard input). Each line is either a payload object
(`{"channel": ..., "text": ..., "blocks": [...], "attachments": [...]}`) or a `router test --json`
result line (`{"deliveries": [{"payload": {...}}, ...]}`, every delivery with a payload is checked;
result lines for input errors or dropped findings have no payload and are skipped).

Every block (top-level and inside attachments) is validated with slack-sdk
(`slack_sdk.models.blocks.Block.parse(b).validate_json()`, unknown block types and ignored keys
reported), and the limits the router relies on are checked independently of both slack-sdk and
the Swift code:

- `text`: a non-empty string of at most 40,000 characters
- at most 50 blocks per list, at most 20 attachments, attachment colours `good`/`warning`/`danger`/`#RRGGBB`
- `header`: plain_text, 1-150 characters
- `section`: text or fields; text 1-3000 characters; at most 10 fields of 1-2000 characters
- `context`: 1-10 elements, text elements 1-3000 characters
- `markdown`: 1-12,000 characters
- all block text of the message together at most 12,000 characters (`msg_blocks_too_long` was seen
  at about 13,000)

Characters are counted as Python's len() does (Unicode code points), as slack-sdk does.
Prints one line per problem (`source: problem`), then `N passed, M failed` (payloads); exits 1 if
any payload failed or no payload was read (unless --allow-empty), 0 otherwise.

Needs slack-sdk: `python3 -m venv /tmp/venv-slack && /tmp/venv-slack/bin/pip install slack-sdk`.
"""

import argparse
import json
import logging
import re
import sys

try:
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import Block
except ImportError:  # pragma: no cover - environment problem, not a payload problem
    print("validate_blocks.py: slack-sdk is not installed (pip install slack-sdk)", file=sys.stderr)
    sys.exit(2)

MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_ATTACHMENTS = 20
HEADER_TEXT = 150
SECTION_TEXT = 3000
MAX_FIELDS = 10
FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3000
MARKDOWN_TEXT = 12_000
BLOCK_TEXT_BUDGET = 12_000

PAYLOAD_KEYS = {
    "channel", "text", "blocks", "attachments", "thread_ts", "reply_broadcast", "ts", "mrkdwn",
    "unfurl_links", "unfurl_media", "username", "icon_emoji", "icon_url", "link_names", "parse", "metadata",
}
COLOR_RE = re.compile(r"^(good|warning|danger|#[0-9A-Fa-f]{6})$")
TEXT_TYPES = ("plain_text", "mrkdwn")


class _Collector(logging.Handler):
    """Collects slack-sdk's log records: unknown elements and ignored constructor arguments."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        msg = record.getMessage()
        if "were ignored" in msg:
            msg = msg.split("If they should be supported")[0].replace("!!! ", "").strip()
        self.messages.append(msg)


_collector = _Collector()
for _name in ("slack_sdk.models", "slack_sdk.models.blocks", "slack_sdk.models.blocks.blocks",
              "slack_sdk.models.blocks.block_elements", "slack_sdk.models.blocks.basic_components"):
    _logger = logging.getLogger(_name)
    _logger.setLevel(logging.DEBUG)
    _logger.addHandler(_collector)
    _logger.propagate = False


def text_length(value):
    """Characters of text in a block: every string under a "text" key, at any depth."""
    if isinstance(value, dict):
        total = 0
        for k, v in value.items():
            if k == "text" and isinstance(v, str):
                total += len(v)
            else:
                total += text_length(v)
        return total
    if isinstance(value, list):
        return sum(text_length(v) for v in value)
    return 0


def check_text_object(obj, where, limit, problems, types=TEXT_TYPES):
    if not isinstance(obj, dict):
        problems.append(f"{where}: must be a text object, got {type(obj).__name__}")
        return
    t = obj.get("type")
    if t not in types:
        problems.append(f"{where}: type must be {' or '.join(types)}, got {t!r}")
    s = obj.get("text")
    if not isinstance(s, str):
        problems.append(f"{where}: text must be a string")
        return
    if len(s) == 0:
        problems.append(f"{where}: text is empty")
    elif len(s) > limit:
        problems.append(f"{where}: text has {len(s)} characters (max {limit})")


def check_block(block, where, problems):
    if not isinstance(block, dict):
        problems.append(f"{where}: block must be an object, got {type(block).__name__}")
        return
    btype = block.get("type")
    # slack-sdk's own validation.
    _collector.messages.clear()
    try:
        parsed = Block.parse(block)
        if parsed is None:
            problems.append(f"{where}: slack-sdk does not know block type {btype!r}")
        else:
            parsed.validate_json()
    except SlackObjectFormationError as e:
        problems.append(f"{where}: slack-sdk: {e}")
    except Exception as e:  # malformed shapes make slack-sdk's constructors raise
        problems.append(f"{where}: slack-sdk cannot parse the block: {type(e).__name__}: {e}")
    for msg in _collector.messages:
        if "Unknown block detected" in msg and parsed is None:
            continue  # already reported
        problems.append(f"{where}: slack-sdk: {msg}")
    _collector.messages.clear()

    # Independent checks.
    if btype == "header":
        check_text_object(block.get("text"), f"{where} header", HEADER_TEXT, problems, types=("plain_text",))
    elif btype == "section":
        if "text" not in block and "fields" not in block:
            problems.append(f"{where} section: needs text or fields")
        if "text" in block:
            check_text_object(block["text"], f"{where} section", SECTION_TEXT, problems)
        if "fields" in block:
            fields = block["fields"]
            if not isinstance(fields, list) or not fields:
                problems.append(f"{where} section: fields must be a non-empty array")
            else:
                if len(fields) > MAX_FIELDS:
                    problems.append(f"{where} section: {len(fields)} fields (max {MAX_FIELDS})")
                for i, f in enumerate(fields):
                    check_text_object(f, f"{where} section field {i}", FIELD_TEXT, problems)
    elif btype == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            problems.append(f"{where} context: elements must be a non-empty array")
        else:
            if len(elements) > MAX_CONTEXT_ELEMENTS:
                problems.append(f"{where} context: {len(elements)} elements (max {MAX_CONTEXT_ELEMENTS})")
            for i, e in enumerate(elements):
                if isinstance(e, dict) and e.get("type") in TEXT_TYPES:
                    check_text_object(e, f"{where} context element {i}", CONTEXT_TEXT, problems)
    elif btype == "markdown":
        s = block.get("text")
        if not isinstance(s, str) or not s:
            problems.append(f"{where} markdown: text must be a non-empty string")
        elif len(s) > MARKDOWN_TEXT:
            problems.append(f"{where} markdown: text has {len(s)} characters (max {MARKDOWN_TEXT})")


def check_blocks(blocks, where, problems):
    if not isinstance(blocks, list):
        problems.append(f"{where}: must be an array, got {type(blocks).__name__}")
        return 0
    if not blocks:
        problems.append(f"{where}: empty array")
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{where}: {len(blocks)} blocks (max {MAX_BLOCKS})")
    for i, b in enumerate(blocks):
        check_block(b, f"{where}[{i}]", problems)
    return text_length(blocks)


def check_payload(payload):
    """Returns the list of problems of one payload (empty when valid)."""
    problems = []
    if not isinstance(payload, dict):
        return [f"payload must be an object, got {type(payload).__name__}"]
    for key in payload:
        if key not in PAYLOAD_KEYS:
            problems.append(f"unknown payload key {key!r}")
    text = payload.get("text")
    if not isinstance(text, str):
        problems.append("text is missing or not a string (Slack needs it for notifications)")
    elif not text.strip():
        problems.append("text is empty")
    elif len(text) > MAX_TEXT:
        problems.append(f"text has {len(text)} characters (max {MAX_TEXT})")
    if "channel" in payload and (not isinstance(payload["channel"], str) or not payload["channel"]):
        problems.append("channel must be a non-empty string")

    block_text = 0
    if "blocks" in payload:
        block_text += check_blocks(payload["blocks"], "blocks", problems)
    if "attachments" in payload:
        attachments = payload["attachments"]
        if not isinstance(attachments, list):
            problems.append("attachments must be an array")
        else:
            if len(attachments) > MAX_ATTACHMENTS:
                problems.append(f"{len(attachments)} attachments (max {MAX_ATTACHMENTS})")
            for i, a in enumerate(attachments):
                where = f"attachments[{i}]"
                if not isinstance(a, dict):
                    problems.append(f"{where}: must be an object")
                    continue
                color = a.get("color")
                if color is not None and (not isinstance(color, str) or not COLOR_RE.match(color)):
                    problems.append(f"{where}: color must be good, warning, danger or #RRGGBB, got {color!r}")
                if "blocks" in a:
                    if "fields" in a:
                        problems.append(f"{where}: fields and blocks cannot be used together")
                    block_text += check_blocks(a["blocks"], f"{where}.blocks", problems)
                elif not any(k in a for k in ("text", "fallback", "pretext", "title", "fields", "image_url")):
                    problems.append(f"{where}: has nothing to show")
    if block_text > BLOCK_TEXT_BUDGET:
        problems.append(f"block text totals {block_text} characters (budget {BLOCK_TEXT_BUDGET})")
    return problems


def payloads_of(line_obj, source):
    """(source, payload) pairs of one input line."""
    if isinstance(line_obj, dict) and "deliveries" in line_obj:
        deliveries = line_obj["deliveries"]
        base = source
        if isinstance(line_obj.get("source"), str):
            base = f"{source} ({line_obj['source']})"
        if not isinstance(deliveries, list):
            yield base, None  # reported as a problem
            return
        for i, d in enumerate(deliveries):
            if isinstance(d, dict) and "payload" in d:
                yield f"{base} delivery {i}", d["payload"]
        return
    if isinstance(line_obj, dict) and "text" not in line_obj and any(
        k in line_obj for k in ("finding", "error", "dropped", "errors")
    ):
        return  # a `router test --json` line without deliveries (input error, dropped finding): no payload
    yield source, line_obj


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="JSON Lines files (default: standard input)")
    ap.add_argument("--allow-empty", action="store_true", help="exit 0 when no payload was read")
    args = ap.parse_args(argv)

    inputs = args.files or ["-"]
    passed = failed = 0
    for name in inputs:
        stream = sys.stdin if name == "-" else open(name, encoding="utf-8")
        label = "stdin" if name == "-" else name
        with stream:
            for n, raw in enumerate(stream, 1):
                if not raw.strip():
                    continue
                source = f"{label}:{n}"
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError as e:
                    print(f"{source}: not JSON: {e}")
                    failed += 1
                    continue
                for src, payload in payloads_of(obj, source):
                    problems = check_payload(payload) if payload is not None else ["deliveries must be an array"]
                    for p in problems:
                        print(f"{src}: {p}")
                    if problems:
                        failed += 1
                    else:
                        passed += 1
    if passed + failed == 0 and not args.allow_empty:
        print("input: no payloads read")
        print("0 passed, 0 failed")
        return 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
