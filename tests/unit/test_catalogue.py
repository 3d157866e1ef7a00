"""The event catalogue: generated from the code, committed, and parsed by a real AsyncAPI parser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.cli import main
from shared.events import catalogue
from shared.events.registry import EVENT_TYPES, all_schemas

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "events"
# The state directory, as deploy/local/infra.sh finds it.
NODE_PREFIX = Path(os.environ.get("TONGXIN_VAR_DIR") or ROOT / "var") / "node"
CHECK_SCRIPT = ROOT / "tests" / "asyncapi_check.cjs"


def contract_event_types() -> set[str]:
    """The event types docs/contract.md names (the list under "Types (at least)")."""
    contract = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    section = contract.split("- Types (at least):", 1)[1].split("\n- ", 1)[0]
    return set(re.findall(r"`(org\.tongxin\.[a-z_.]+)`", section))


@pytest.fixture(scope="module")
def parsed() -> dict[str, object]:
    """The committed asyncapi.json as @asyncapi/parser (npm, installed in var/node) sees it."""
    node = shutil.which("node")
    assert node, "node is missing: run `deploy/local/infra.sh install`"
    assert (NODE_PREFIX / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "@asyncapi/parser is missing from var/node: run `deploy/local/infra.sh install`"
    )
    proc = subprocess.run(
        [node, str(CHECK_SCRIPT), str(DOCS / "asyncapi.json"), str(NODE_PREFIX)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_committed_catalogue_is_exactly_what_the_code_generates() -> None:
    problems = catalogue.drift(DOCS)
    assert problems == [], (
        "docs/events is out of step with shared/events: run `tongxin events catalogue` "
        f"and commit the result: {problems}"
    )


def test_asyncapi_parser_reports_no_errors_or_warnings(parsed: dict[str, object]) -> None:
    diagnostics = parsed["diagnostics"]
    assert isinstance(diagnostics, list)
    serious = [d for d in diagnostics if d["severity"] in ("error", "warning")]
    assert parsed["valid"] is True and serious == []
    assert parsed["version"] == "3.0.0"


def test_parsed_document_lists_every_contract_event_type(parsed: dict[str, object]) -> None:
    wanted = contract_event_types()
    assert len(wanted) == 17  # the contract's list, read from docs/contract.md itself
    messages = parsed["messages"]
    assert isinstance(messages, list)
    names = {m["name"] for m in messages}
    assert wanted <= names
    assert set(EVENT_TYPES) <= names  # and every type the code has beyond the contract
    assert all(m["hasPayload"] for m in messages)


def test_each_stream_is_a_channel_carrying_its_own_event_types(
    parsed: dict[str, object],
) -> None:
    channels = parsed["channels"]
    assert isinstance(channels, dict)
    for stream in ("needs", "volunteers", "notify"):
        channel = channels[stream]
        assert channel["address"] == f"tongxin.{stream}.v1"
        expected = {t for t, cls in EVENT_TYPES.items() if cls.stream == stream}
        assert set(channel["messages"]) == expected
        assert channels[f"{stream}DeadLetters"]["address"] == f"tongxin.{stream}.v1.dlq"


def test_messages_wrap_the_payload_schema_in_the_cloudevents_envelope() -> None:
    doc = catalogue.build_asyncapi()
    message = doc["components"]["messages"]["TaskCompleted"]
    payload = message["payload"]
    assert payload["allOf"] == [{"$ref": "#/components/schemas/CloudEvent"}]
    assert payload["properties"]["type"]["const"] == "org.tongxin.task.completed"
    assert payload["properties"]["data"] == {
        "$ref": "#/components/schemas/org.tongxin.task.completed"
    }
    assert message["contentType"] == "application/cloudevents+json"
    assert "`data.need_id`" in message["description"]  # the Kafka key, found from the code
    envelope = doc["components"]["schemas"]["CloudEvent"]
    for attribute in ("id", "source", "type", "subject", "time", "dataschema", "community"):
        assert attribute in envelope["required"]
    # nested models are lifted into components, referenced from there
    hours = doc["components"]["schemas"]["org.tongxin.task.completed"]["properties"]["hours"]
    assert hours["items"] == {"$ref": "#/components/schemas/VolunteerHours"}


def test_per_type_schema_files_are_the_registry_schemas() -> None:
    for event_type, schema in all_schemas().items():
        committed = json.loads((DOCS / "schemas" / f"{event_type}.json").read_text())
        assert committed == schema
        assert committed["$id"] == f"urn:tongxin:events:{event_type}:v1"


def test_catalogue_command_writes_then_reports_in_step(tmp_path: Path) -> None:
    out = tmp_path / "events"
    assert main(["events", "catalogue", "--out", str(out), "--check"]) == 1
    assert main(["events", "catalogue", "--out", str(out)]) == 0
    assert main(["events", "catalogue", "--out", str(out), "--check"]) == 0
    (out / "schemas" / "org.tongxin.gone.json").write_text("{}")
    assert catalogue.drift(out) == ["stale (no such event type): schemas/org.tongxin.gone.json"]


def test_catalogue_command_refuses_to_publish_a_breaking_change(tmp_path: Path) -> None:
    out = tmp_path / "events"
    catalogue.write(out)
    committed = out / "schemas" / "org.tongxin.need.posted.json"
    schema = json.loads(committed.read_text())
    schema["properties"]["legacy_field"] = {"type": "string"}  # the code no longer has it
    committed.write_text(json.dumps(schema))
    assert main(["events", "catalogue", "--out", str(out)]) == 1
    assert "legacy_field" in committed.read_text()  # nothing overwritten
    assert main(["events", "catalogue", "--out", str(out), "--accept-breaking"]) == 0
    assert "legacy_field" not in committed.read_text()
