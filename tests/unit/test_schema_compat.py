"""Event schemas evolve additively: the code's schemas against the committed ones."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from shared.events.catalogue import committed_schemas
from shared.events.compat import breaking_changes
from shared.events.registry import all_schemas

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"

POSTED = "org.tongxin.need.posted"
COMPLETED = "org.tongxin.task.completed"


def committed() -> dict[str, dict[str, Any]]:
    return committed_schemas(DOCS)


def reasons(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [str(c) for c in breaking_changes(old, new)]


def test_the_code_breaks_no_committed_event_schema() -> None:
    published = committed()
    assert POSTED in published and len(published) >= 17
    assert reasons(published, all_schemas()) == []


def test_a_removed_field_is_a_breaking_change() -> None:
    current = all_schemas()
    broken = copy.deepcopy(current)
    del broken[POSTED]["properties"]["title"]
    broken[POSTED]["required"].remove("title")
    assert reasons(current, broken) == [f"{POSTED} at `title`: field removed (or renamed)"]


def test_a_renamed_field_is_a_breaking_change() -> None:
    current = all_schemas()
    broken = copy.deepcopy(current)
    props = broken[POSTED]["properties"]
    props["headline"] = props.pop("title")
    assert f"{POSTED} at `title`: field removed (or renamed)" in reasons(current, broken)


def test_a_changed_type_is_a_breaking_change() -> None:
    current = all_schemas()
    broken = copy.deepcopy(current)
    broken[POSTED]["properties"]["slots"] = {"type": "string", "title": "Slots"}
    assert reasons(current, broken) == [f"{POSTED} at `slots`: type changed from integer to string"]


def test_a_changed_type_inside_a_nested_model_is_a_breaking_change() -> None:
    current = all_schemas()
    broken = copy.deepcopy(current)
    broken[COMPLETED]["$defs"]["VolunteerHours"]["properties"]["hours"]["type"] = "string"
    assert reasons(current, broken) == [
        f"{COMPLETED} at `hours[].hours`: type changed from number to string"
    ]


def test_a_newly_required_field_is_a_breaking_change() -> None:
    current = all_schemas()
    broken = copy.deepcopy(current)
    broken[POSTED]["properties"]["priority"] = {"type": "integer"}
    broken[POSTED]["required"].append("priority")
    broken[POSTED]["required"].append("skills")  # optional until now
    assert reasons(current, broken) == [
        f"{POSTED} at `priority`: new field is required",
        f"{POSTED} at `skills`: field became required",
    ]


def test_a_removed_event_type_or_enum_value_is_a_breaking_change() -> None:
    current = all_schemas()
    broken = copy.deepcopy(current)
    del broken["org.tongxin.need.rejected"]
    broken[POSTED]["properties"]["kind"]["enum"] = ["wish"]
    assert reasons(current, broken) == [
        f"{POSTED} at `kind`: allowed values removed: 'project'",
        "org.tongxin.need.rejected: event type removed",
    ]


def test_additive_changes_break_nothing() -> None:
    current = all_schemas()
    grown = copy.deepcopy(current)
    grown[POSTED]["properties"]["priority"] = {"type": "integer", "default": 0}
    grown[POSTED]["properties"]["kind"]["enum"].append("campaign")
    grown["org.tongxin.need.reopened"] = {"type": "object", "properties": {}}
    grown[POSTED]["required"].remove("slots")
    grown[POSTED]["description"] = "reworded"
    assert reasons(current, grown) == []
