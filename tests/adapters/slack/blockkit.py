"""Block Kit limits, checked on what the Slack adapter builds (messages and modals).

slack_sdk's own models check part of them (`View(**view).to_dict()` and
`Block.parse(block).to_dict()` validate recursively); the rest are spelled out
here from https://docs.slack.dev/reference/block-kit/ so a block list Slack
would refuse (`invalid_blocks`) fails the test that built it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100


def check_message(blocks: Sequence[Mapping[str, Any]], text: str | None = None) -> None:
    """A message's blocks (and its fallback text) are within Block Kit's limits."""
    assert 1 <= len(blocks) <= MESSAGE_BLOCKS_MAX, f"{len(blocks)} blocks"
    if text is not None:
        assert text.strip() and len(text) <= 40_000
    check_blocks(blocks)
    for block in blocks:
        assert block["type"] in {"section", "context", "header", "divider", "actions"}, block


def check_view(view: Mapping[str, Any]) -> None:
    """A modal view is within Slack's limits (and serializes to JSON)."""
    json.dumps(view)
    View(**view).to_dict()  # slack_sdk's validators: title, blocks, metadata, callback_id
    assert view["type"] == "modal"
    assert 1 <= len(view["title"]["text"]) <= 24
    for button in ("submit", "close"):
        if button in view:
            assert 1 <= len(view[button]["text"]) <= 24
    assert len(view.get("private_metadata", "")) <= 3000
    assert len(view.get("callback_id", "")) <= 255
    assert 1 <= len(view["blocks"]) <= VIEW_BLOCKS_MAX
    check_blocks(view["blocks"])
    if any(block["type"] == "input" for block in view["blocks"]):
        assert "submit" in view, "a modal with inputs needs a submit button"


def check_blocks(blocks: Sequence[Mapping[str, Any]]) -> None:
    ids = [block["block_id"] for block in blocks if "block_id" in block]
    assert len(ids) == len(set(ids)), f"duplicate block ids: {ids}"
    for block in blocks:
        parsed = Block.parse(dict(block))
        assert parsed is not None, block
        parsed.to_dict()
        assert len(block.get("block_id", "")) <= 255
        check = _CHECKS.get(block["type"])
        assert check is not None, f"unexpected block type {block['type']}"
        check(block)


def _text(obj: Mapping[str, Any], limit: int, *, kinds: tuple[str, ...] = ("plain_text",
                                                                           "mrkdwn")) -> None:
    assert obj["type"] in kinds, obj
    assert isinstance(obj["text"], str) and obj["text"].strip(), f"empty text: {obj}"
    assert len(obj["text"]) <= limit, f"{len(obj['text'])} > {limit} characters"


def _section(block: Mapping[str, Any]) -> None:
    assert "text" in block or "fields" in block
    if "text" in block:
        _text(block["text"], 3000)
    if "fields" in block:
        assert 1 <= len(block["fields"]) <= 10
        for field in block["fields"]:
            _text(field, 2000)
    if "accessory" in block:
        _element(block["accessory"])


def _context(block: Mapping[str, Any]) -> None:
    assert 1 <= len(block["elements"]) <= 10
    for element in block["elements"]:
        _text(element, 3000)


def _header(block: Mapping[str, Any]) -> None:
    _text(block["text"], 150, kinds=("plain_text",))


def _input(block: Mapping[str, Any]) -> None:
    _text(block["label"], 2000, kinds=("plain_text",))
    if "hint" in block:
        _text(block["hint"], 2000, kinds=("plain_text",))
    assert isinstance(block.get("optional", False), bool)
    _element(block["element"])


def _element(element: Mapping[str, Any]) -> None:
    assert 1 <= len(element["action_id"]) <= 255
    if "placeholder" in element:
        _text(element["placeholder"], 150, kinds=("plain_text",))
    if element["type"] == "plain_text_input":
        high = element.get("max_length", 3000)
        assert 1 <= high <= 3000, f"max_length {high}"
        assert 0 <= element.get("min_length", 0) <= high
        assert len(element.get("initial_value", "")) <= high
    elif element["type"] == "static_select":
        options = element["options"]
        assert 1 <= len(options) <= 100
        for option in options:
            _text(option["text"], 75, kinds=("plain_text",))
            assert 1 <= len(option["value"]) <= 150
        if "initial_option" in element:
            assert element["initial_option"] in options
    else:
        raise AssertionError(f"unexpected element {element['type']}")


_CHECKS = {"section": _section, "context": _context, "header": _header, "input": _input,
           "divider": lambda block: None}
