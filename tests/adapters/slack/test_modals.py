"""The job form: its view JSON within Slack's limits, hints naming the limits, and parsing."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack.modals import (
    CALLBACK_ID,
    TEMPLATE_ACTION,
    ModalMeta,
    field_blocks,
    field_of,
    job_modal,
    parse_submission,
)
from bot.templates import all_templates
from jobs_store.models import JOB_FIELDS, LIMITS, Job
from tests.adapters.slack.blockkit import check_view

TEMPLATES = all_templates()


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def _job(**fields: Any) -> Job:
    data = {"id": "job_0000abcd", "name": "Take a message", "version": 3,
            "instructions": "1. Ask who it is for.\n2. Ask for the message.",
            "trigger": "leave a message", "description": "Takes messages.",
            "audience": "everyone", "rule": "platform=slack"}
    data.update(fields)
    return Job.model_validate(data)


def _submitted(view: dict[str, Any], values: dict[str, str | None]) -> dict[str, Any]:
    """`view` as Slack sends it back on submit, with these input values by field."""
    blocks = field_blocks(view)
    state = {blocks[f]: {"value": {"type": "plain_text_input", "value": v}}
             for f, v in values.items()}
    return {**view, "state": {"values": state}}


def test_the_create_form_has_the_template_picker_and_every_field_with_its_limit() -> None:
    view = job_modal(job=None, templates=TEMPLATES, version=None, channel="C1",
                     response_url="https://hooks.slack.com/commands/T1/1/x")
    check_view(view)
    assert view["callback_id"] == CALLBACK_ID
    assert view["title"]["text"] == "New job"
    picker = view["blocks"][0]
    assert picker["accessory"]["action_id"] == TEMPLATE_ACTION
    assert [o["value"] for o in picker["accessory"]["options"]] == list(TEMPLATES)
    assert [o["text"]["text"] for o in picker["accessory"]["options"]] == \
        [t["name"] for t in TEMPLATES.values()]
    inputs = _inputs(view)
    assert list(inputs) == list(JOB_FIELDS)
    for field, block in inputs.items():
        element = block["element"]
        assert element["max_length"] == min(LIMITS[field][1], 3000)
        assert "initial_value" not in element
        assert block["optional"] is (field not in ("name", "instructions"))
        assert f"{min(LIMITS[field][1], 3000):,} characters" in block["hint"]["text"]
    assert inputs["name"]["hint"]["text"].startswith("1–100 characters")
    assert "element" in inputs["name"] and not inputs["name"]["element"].get("multiline")
    assert inputs["instructions"]["element"]["multiline"] is True
    hint = inputs["instructions"]["hint"]["text"]
    assert "3,000 characters here" in hint and "10,000" in hint
    assert '/jobs edit <job> instructions="…"' in hint and "/jobs import" in hint
    assert "first_seen_within=7d" in inputs["rule"]["hint"]["text"]
    meta = json.loads(view["private_metadata"])
    assert meta == {"job_id": None, "version": None, "channel": "C1",
                    "response_url": "https://hooks.slack.com/commands/T1/1/x", "rev": 0}


def test_the_edit_form_is_prefilled_and_carries_the_version() -> None:
    job = _job()
    view = job_modal(job=job, templates=TEMPLATES, version=None, channel="C9")
    check_view(view)
    assert view["title"]["text"] == "Edit job"
    assert all(b.get("block_id") != "template" for b in view["blocks"])
    assert "Editing version 3 of *Take a message*" in view["blocks"][0]["elements"][0]["text"]
    inputs = _inputs(view)
    for field in JOB_FIELDS:
        assert inputs[field]["element"]["initial_value"] == getattr(job, field)
    assert ModalMeta.load(view["private_metadata"]) == ModalMeta(
        job_id="job_0000abcd", version=3, channel="C9")
    # An explicit version wins (the one the admin looked at).
    assert ModalMeta.load(job_modal(job=job, templates={}, version=2)["private_metadata"]
                          ).version == 2


def test_instructions_longer_than_a_slack_input_are_left_out_and_kept() -> None:
    long = "Goal: x.\n" + "\n".join(f"{i}. " + "y" * 95 for i in range(1, 100))
    assert 3000 < len(long) <= 10_000
    view = job_modal(job=_job(instructions=long), templates=TEMPLATES, version=None)
    check_view(view)
    assert "instructions" not in field_blocks(view)
    notes = [b["elements"][0]["text"] for b in view["blocks"] if b["type"] == "context"]
    assert any(f"{len(long):,} characters" in n and
               '/jobs edit "Take a message" instructions="…"' in n for n in notes)
    fields = parse_submission(_submitted(view, {f: "x" for f in JOB_FIELDS
                                                if f != "instructions"}))
    assert "instructions" not in fields  # so saving leaves them as they are


def test_a_chosen_template_prefills_new_block_ids_so_slack_shows_the_new_values() -> None:
    key = "take-message"
    view = job_modal(job=None, templates=TEMPLATES, version=None, channel="C1",
                     prefill=TEMPLATES[key], template_key=key, rev=2)
    check_view(view)
    inputs = _inputs(view)
    assert list(inputs) == [f"{f}-2" for f in JOB_FIELDS]
    assert inputs["name-2"]["element"]["initial_value"] == "Take a message"
    assert inputs["instructions-2"]["element"]["initial_value"] == \
        TEMPLATES[key]["instructions"]
    assert view["blocks"][0]["accessory"]["initial_option"]["value"] == key
    assert ModalMeta.load(view["private_metadata"]).rev == 2


def test_every_template_fits_the_form() -> None:
    for rev, (key, fields) in enumerate(TEMPLATES.items(), start=1):
        view = job_modal(job=None, templates=TEMPLATES, version=None, prefill=fields,
                         template_key=key, rev=rev)
        check_view(view)
        assert parse_submission(_submitted(view, dict(fields))) == \
            {f: fields.get(f, "") for f in fields}


def test_parse_submission_reads_every_input_and_empty_ones_as_empty_text() -> None:
    view = job_modal(job=None, templates=TEMPLATES, version=None, rev=1)
    values: dict[str, str | None] = {f: None for f in JOB_FIELDS}
    values.update(name="Book a meeting", instructions="1. Ask when.\n2. Book it.")
    submitted = _submitted(view, values)
    # Slack also reports the picker's state; it is not a job field.
    submitted["state"]["values"]["template"] = {
        TEMPLATE_ACTION: {"type": "static_select", "selected_option": None}}
    assert parse_submission(submitted) == {
        "name": "Book a meeting", "description": "", "trigger": "",
        "instructions": "1. Ask when.\n2. Book it.", "audience": "", "rule": ""}
    assert field_blocks(view)["name"] == "name-1"
    assert parse_submission({}) == {}


def test_field_of_reads_block_ids() -> None:
    assert field_of("name") == "name"
    assert field_of("instructions-12") == "instructions"
    assert field_of("template") is None
    assert field_of("version") is None


def test_foreign_private_metadata_reads_as_an_empty_create() -> None:
    for raw in (None, "", "not json", "[1]", '{"version": "2", "rev": "x"}'):
        assert ModalMeta.load(raw) == ModalMeta()
    meta = ModalMeta(job_id="job_1", version=4, channel="D1", response_url="u", rev=1)
    assert ModalMeta.load(meta.dump()) == meta


_field_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                      max_size=600)


@settings(max_examples=60, deadline=None)
@given(name=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
                    min_size=1, max_size=100).filter(lambda s: s.strip() and s.isprintable()),
       description=_field_text.map(lambda t: t[:500]),
       instructions=st.text(min_size=1, max_size=10_000).filter(str.strip),
       version=st.integers(1, 10**9))
def test_any_valid_job_makes_a_valid_edit_form(name: str, description: str,
                                               instructions: str, version: int) -> None:
    job = _job(name=name, description=description, instructions=instructions, version=version)
    view = job_modal(job=job, templates=TEMPLATES, version=None, channel="C" * 20,
                     response_url="https://hooks.slack.com/commands/T0000/" + "9" * 60)
    check_view(view)
    shown = {f: b["element"].get("initial_value", "") for f, b in _inputs(view).items()}
    assert shown["name"] == job.name
    assert ("instructions" in shown) is (len(job.instructions) <= 3000)


def test_field_blocks_also_reads_a_submission_without_blocks() -> None:
    view = _submitted(job_modal(job=None, templates={}, version=None, rev=3),
                      {"name": "x", "rule": ""})
    assert field_blocks({"state": view["state"]}) == {"name": "name-3", "rule": "rule-3"}
