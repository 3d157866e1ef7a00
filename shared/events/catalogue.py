"""The event catalogue: an AsyncAPI 3.0 document and one JSON Schema per event type.

Generated from the payload classes (`shared.events.registry`), so it cannot drift from the
code: `tongxin events catalogue` writes it under `docs/events/`, and a test regenerates it
and compares. Output is deterministic (sorted, stable JSON) so that a diff shows real change.

Long because it writes one whole AsyncAPI document (channels, operations, messages, the
dead-letter headers) and lifts each schema's definitions into it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from shared.events.envelope import CONTENT_TYPE, CloudEvent, EventPayload, schema_uri
from shared.events.registry import EVENT_TYPES, all_schemas

ASYNCAPI_VERSION = "3.0.0"
# Bump the minor version when event types or optional fields are added.
CATALOGUE_VERSION = "1.1.0"
KAFKA_BINDING_VERSION = "0.5.0"
DEFAULT_NAMESPACE = "tongxin"

Schema = dict[str, Any]

STREAMS: dict[str, tuple[str, str]] = {
    "needs": ("needs", "需求、认领、完成与确认 / needs, review, claims, completion, confirmation"),
    "volunteers": (
        "volunteers",
        "组织树、志愿者、服务队与积分 / org tree, volunteers, organisations, teams, points",
    ),
    "notify": ("notify", "通知投递结果 / notification deliveries"),
    "identity": ("identity", "任命与免职 / appointments to offices and their end"),
}

# What each contract type means, Chinese first. A type missing here falls back to its docstring.
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "org.tongxin.need.posted": (
        "需求已发布",
        "A resident or admin posted a need; it awaits review.",
    ),
    "org.tongxin.need.approved": (
        "需求已立项",
        "An admin approved the need into the project library; it is open for claims.",
    ),
    "org.tongxin.need.rejected": ("需求未通过", "An admin rejected the need, with a reason."),
    "org.tongxin.need.cancelled": (
        "需求已撤销",
        "The requester or an admin cancelled the need before it was claimed.",
    ),
    "org.tongxin.project.claimed": (
        "项目已认领",
        "A volunteer, a team or an organisation claimed slots of an open need.",
    ),
    "org.tongxin.project.claim_released": (
        "认领已释放",
        "A claim was released (or expired); its slots are open again.",
    ),
    "org.tongxin.task.completed": (
        "服务已完成",
        "The claimers recorded the service: hours, beneficiaries, goods and funds.",
    ),
    "org.tongxin.task.confirmed": (
        "服务已确认",
        "The requester or an admin confirmed the completed service and rated it.",
    ),
    "org.tongxin.volunteer.registered": (
        "志愿者已报到",
        "A party member or volunteer reported to their home community.",
    ),
    "org.tongxin.volunteer.updated": (
        "志愿者信息已更新",
        "A volunteer's profile changed, or they were deactivated (`active` false).",
    ),
    "org.tongxin.team.formed": ("服务队已成立", "A volunteer service team was formed."),
    "org.tongxin.team.member_joined": ("队员已加入", "A volunteer joined a service team."),
    "org.tongxin.team.leader_changed": ("队长已变更", "A service team got a new leader."),
    "org.tongxin.organization.registered": (
        "单位/社会组织已登记",
        "An enterprise or social organisation registered as a claimant.",
    ),
    "org.tongxin.org_unit.updated": (
        "组织单元已更新",
        "An org unit (district, street, community, grid) was created or renamed.",
    ),
    "org.tongxin.points.credited": (
        "积分已入账",
        "Points for a completion's verified hours entered a volunteer's love passbook "
        "(爱心存折); a later revision posts the difference (negative: a reversing entry).",
    ),
    "org.tongxin.hours.verified": (
        "服务时长已核实",
        "A completion's hours and figures were verified (resident, admin, grid worker, or "
        "automatically); a later revision corrects an earlier one.",
    ),
    "org.tongxin.claim.attendance": (
        "签到/签退",
        "A volunteer checked in or out of a claim with the need's rotating code.",
    ),
    "org.tongxin.hours.disputed": (
        "服务时长有异议",
        "The resident or an admin disputed a completion's hours or figures.",
    ),
    "org.tongxin.reminder.due": (
        "提醒",
        "A reminder: a claim's due date is near, or a completion awaits the resident.",
    ),
    "org.tongxin.points.returned": (
        "积分已退回",
        "Points held for a love-supermarket reservation came back to the passbook.",
    ),
    "org.tongxin.shop_item.changed": (
        "爱心超市商品已更新",
        "A community's love supermarket item was created, repriced or restocked.",
    ),
    "org.tongxin.reservation.made": (
        "商品已预订",
        "A volunteer reserved an item with points held; a pick-up code was issued.",
    ),
    "org.tongxin.reservation.handed_over": (
        "商品已领取",
        "The shopkeeper handed the reserved item over against its pick-up code.",
    ),
    "org.tongxin.reservation.lapsed": (
        "预订已过期",
        "A reservation was not picked up in time; its item and points returned.",
    ),
    "org.tongxin.certificate.issued": (
        "志愿服务记录证明已出具",
        "The community that recorded a volunteer's services issued a certificate of them.",
    ),
    "org.tongxin.certificate.revoked": (
        "志愿服务记录证明已撤销",
        "The issuing community revoked a certificate, with a reason.",
    ),
    "org.tongxin.district.rules_changed": (
        "区级规则已变更",
        "A district's local rules changed: stars, points, auto-confirm, caps, check-in.",
    ),
    "org.tongxin.points.redeemed": (
        "积分已兑换",
        "A volunteer redeemed points at the love supermarket (爱心超市).",
    ),
    "org.tongxin.notification.delivered": (
        "通知已送达",
        "A notification reached its recipient on one channel.",
    ),
    "org.tongxin.notification.failed": (
        "通知投递失败",
        "A notification could not be delivered after its retries.",
    ),
    "org.tongxin.appointment.made": (
        "已任命",
        "An admin (or a service, for a district's first admin) appointed a person to an "
        "office in a scope: community/street/district admin, operator or grid worker.",
    ),
    "org.tongxin.appointment.ended": (
        "已免职",
        "An appointment ended; the person's next token no longer carries the role.",
    ),
}

DEAD_LETTER_HEADERS: dict[str, str] = {
    "tongxin-error": "The handler's error, `<ExceptionType>: <message>` (at most 4,000 bytes).",
    "tongxin-error-type": "The exception's type name.",
    "tongxin-original-topic": "The topic the message was read from.",
    "tongxin-original-partition": "Its partition.",
    "tongxin-original-offset": "Its offset.",
    "tongxin-attempts": "How many times the handler was tried (0: the message was unreadable).",
    "tongxin-consumer-group": "The consumer group whose handler gave up.",
}


# ---------------------------------------------------------------------------------------------
# Payload schemas
# ---------------------------------------------------------------------------------------------


def message_name(cls: type[EventPayload]) -> str:
    """The message id in the AsyncAPI document: the payload class name (`NeedPosted`)."""
    return cls.__name__


def _field_behind(cls: type[EventPayload], method: str) -> str | None:
    """Which payload field a subject()/community() method returns, found on a dummy instance."""
    try:
        values: dict[str, Any] = {name: f"\0{name}" for name in cls.model_fields}
        dummy = cls.model_construct(**values)
        value = getattr(dummy, method)()
    except Exception:
        return None
    return value[1:] if isinstance(value, str) and value.startswith("\0") else None


def _component_schema(schema: Schema, defs_names: dict[str, str]) -> Schema:
    """A payload schema as it sits in `components.schemas`: no `$id`, `$defs` lifted out."""
    out = copy.deepcopy(schema)
    out.pop("$id", None)
    out.pop("$defs", None)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node["$ref"] = "#/components/schemas/" + defs_names[ref.removeprefix("#/$defs/")]
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)
        return node

    return rewrite(out)  # type: ignore[no-any-return]


def _lift_defs(schemas: dict[str, Schema]) -> tuple[dict[str, Schema], dict[str, dict[str, str]]]:
    """Nested models shared by several payloads (`Location`) become one component each."""
    lifted: dict[str, Schema] = {}
    names: dict[str, dict[str, str]] = {}
    for event_type, schema in schemas.items():
        names[event_type] = {}
        for def_name, def_schema in sorted(schema.get("$defs", {}).items()):
            name = def_name
            if name in lifted and lifted[name] != def_schema:
                name = f"{event_type}.{def_name}"  # same name, different model: keep both
            lifted[name] = def_schema
            names[event_type][def_name] = name
    return lifted, names


def _envelope_schema() -> Schema:
    schema = CloudEvent.model_json_schema(mode="serialization")
    schema["title"] = "CloudEvent"
    schema["description"] = (
        "CloudEvents 1.0 in structured JSON mode: the envelope of every Tongxin event. "
        "`id` is unique (the dedup key), `subject` is the aggregate id (also the Kafka key), "
        "`community` is the org path the event belongs to, `correlationid` ties together "
        "the events caused by one request. Consumers must ignore attributes and data fields "
        "they do not know."
    )
    notes = {
        "id": "Unique per event; deduplicate on it (redeliveries carry the same id).",
        "source": "`/tongxin/<service>`: the producing service.",
        "type": "The event type, `org.tongxin.<aggregate>.<past-tense verb>`.",
        "subject": "The aggregate id (need id, volunteer id, ...); also the Kafka key.",
        "time": "When the change happened (RFC 3339, UTC).",
        "dataschema": "`urn:tongxin:events:<type>:v<version>`: the schema of `data`.",
        "community": "Extension: the org path (`district.street.community`) of the event.",
        "correlationid": "Extension: shared by every event one request or event caused.",
        "data": "The payload; its schema depends on `type`.",
    }
    for name, note in notes.items():
        schema["properties"][name]["description"] = note
    return schema


# ---------------------------------------------------------------------------------------------
# The AsyncAPI document
# ---------------------------------------------------------------------------------------------


def _channel_key(stream: str, dead_letter: bool = False) -> str:
    return f"{stream}DeadLetters" if dead_letter else stream


def build_asyncapi(namespace: str = DEFAULT_NAMESPACE) -> Schema:
    schemas = all_schemas()
    lifted, def_names = _lift_defs(schemas)
    by_stream: dict[str, list[type[EventPayload]]] = {s: [] for s in STREAMS}
    for event_type in sorted(EVENT_TYPES):
        cls = EVENT_TYPES[event_type]
        by_stream.setdefault(cls.stream, []).append(cls)

    component_schemas: Schema = {
        "CloudEvent": _envelope_schema(),
        "KafkaHeaders": {
            "type": "object",
            "description": "Kafka record headers of every event.",
            "properties": {
                "content-type": {
                    "type": "string",
                    "const": CONTENT_TYPE,
                    "description": "Structured mode: the whole record value is the CloudEvent.",
                }
            },
            "required": ["content-type"],
        },
        "DeadLetterHeaders": {
            "type": "object",
            "description": "The original record's headers plus why and where it failed.",
            "properties": {
                name: {"type": "string", "description": note}
                for name, note in DEAD_LETTER_HEADERS.items()
            },
            "required": sorted(DEAD_LETTER_HEADERS),
        },
    }
    for name in sorted(lifted):
        component_schemas[name] = lifted[name]
    messages: Schema = {}
    for event_type, schema in schemas.items():
        cls = EVENT_TYPES[event_type]
        component_schemas[event_type] = _component_schema(schema, def_names[event_type])
        zh, en = DESCRIPTIONS.get(
            event_type, ("", (cls.__doc__ or event_type).strip().splitlines()[0])
        )
        subject_field = _field_behind(cls, "subject")
        community_field = _field_behind(cls, "community")
        keyed = f"`data.{subject_field}`" if subject_field else "the aggregate id"
        placed = f"`data.{community_field}`" if community_field else "the aggregate's org path"
        messages[message_name(cls)] = {
            "name": event_type,
            "title": f"{zh} / {message_name(cls)}" if zh else message_name(cls),
            "summary": en,
            "description": (
                f"{'**' + zh + '** ' if zh else ''}{en}\n\n"
                f"Kafka key and CloudEvent `subject`: {keyed}. "
                f"`community` extension: {placed}. "
                f"`dataschema`: `{schema_uri(event_type, cls.version)}` "
                f"(`docs/events/schemas/{event_type}.json`)."
            ),
            "contentType": CONTENT_TYPE,
            "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
            "payload": {
                "allOf": [{"$ref": "#/components/schemas/CloudEvent"}],
                "type": "object",
                "properties": {
                    "type": {"type": "string", "const": event_type},
                    "source": {"type": "string", "const": cls.source},
                    "dataschema": {
                        "type": "string",
                        "const": schema_uri(event_type, cls.version),
                    },
                    "data": {"$ref": f"#/components/schemas/{event_type}"},
                },
            },
            "correlationId": {"$ref": "#/components/correlationIds/correlationid"},
            "bindings": {
                "kafka": {
                    "key": {
                        "type": "string",
                        "description": f"The aggregate id ({keyed}): one aggregate's events "
                        "share a partition and keep their order.",
                    },
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
    messages["DeadLetter"] = {
        "name": "dead-letter",
        "title": "死信 / DeadLetter",
        "summary": "A record a consumer could not handle, copied unchanged with its error.",
        "description": (
            "The value and key are the original record's, byte for byte (usually one of the "
            "stream's CloudEvents; a poison message may not even be JSON). The headers say why "
            "and where it failed. `tongxin dlq redrive` sends it back to its original topic."
        ),
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"description": "The original record's value, unchanged."},
    }

    channels: Schema = {}
    operations: Schema = {}
    for stream, (service, about) in STREAMS.items():
        address = f"{namespace}.{stream}.v1"
        names = [message_name(cls) for cls in by_stream.get(stream, [])]
        key = _channel_key(stream)
        channels[key] = {
            "address": address,
            "title": f"{stream} stream",
            "summary": about,
            "description": (
                f"Every event the {service} service publishes, keyed by aggregate id. "
                f"The topic prefix is `TONGXIN_TOPIC_NAMESPACE` (default `{DEFAULT_NAMESPACE}`); "
                "partitions: `TONGXIN_TOPIC_PARTITIONS`."
            ),
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
            "bindings": {"kafka": {"topic": address, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        operations[f"publish{stream.capitalize()}Events"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "title": f"{service} publishes",
            "summary": f"The {service} service's outbox relay publishes these events.",
            "messages": [{"$ref": f"#/channels/{key}/messages/{n}"} for n in names],
        }
        dlq_key = _channel_key(stream, dead_letter=True)
        channels[dlq_key] = {
            "address": f"{address}.dlq",
            "title": f"{stream} dead letters",
            "summary": f"Records of `{address}` that a consumer could not handle.",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            "bindings": {
                "kafka": {"topic": f"{address}.dlq", "bindingVersion": KAFKA_BINDING_VERSION}
            },
        }
        operations[f"deadLetter{stream.capitalize()}Events"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{dlq_key}"},
            "summary": "A consumer dead-letters a record after its retries are exhausted.",
            "messages": [{"$ref": f"#/channels/{dlq_key}/messages/DeadLetter"}],
        }

    # Issue 19: the public streams' events again, one topic per district, for subscribers
    # authorised for one district (docs/subscribing.md; notify's handlers/district_router.py).
    public = [message_name(cls) for stream in STREAMS for cls in by_stream.get(stream, [])]
    channels["district"] = {
        "address": f"{namespace}.d.{{district}}.v1",
        "title": "district stream",
        "summary": "区级事件流 / every public event of one district, for its subscribers",
        "description": (
            "The records of the four public streams whose `community` lies in the district "
            "(its first segment), copied unchanged (same key, value and headers: the masked "
            "public payloads) by notify's district router, each once: read them with "
            "`isolation.level=read_committed`. A district's subscriber user may read its own "
            "district's topic and no other."
        ),
        "parameters": {
            "district": {
                "description": "The district: the first segment of the events' org path.",
                "examples": ["zhongshan"],
            }
        },
        "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in public},
    }
    operations["routeDistrictEvents"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/district"},
        "title": "notify routes",
        "summary": "The district router copies each public event to its district's stream.",
        "messages": [{"$ref": f"#/channels/district/messages/{n}"} for n in public],
    }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "同心 Tongxin events",
            "version": CATALOGUE_VERSION,
            "description": (
                "The event stream of Tongxin (同心), the platform for community service "
                "projects: residents' needs, review into the project library, claims by "
                "volunteers, teams and organisations, completion, confirmation, points and "
                "notifications.\n\n"
                "Every Kafka record is a CloudEvents 1.0 event in structured JSON mode, keyed by "
                "its aggregate id. Schemas evolve additively: fields and types are added, never "
                "renamed or removed. Consumers must ignore fields they do not know and "
                "deduplicate on the CloudEvent `id`. See docs/subscribing.md."
            ),
            "license": {"name": "Apache-2.0"},
            "tags": [{"name": "cloudevents"}, {"name": "community-service"}],
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "One KRaft broker on a developer's machine (make infra-up).",
            },
            "district": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "The broker of deploy/docker-compose.yml, inside its network.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": component_schemas,
            "messages": messages,
            "correlationIds": {
                "correlationid": {
                    "description": "Shared by every event that one request or event caused.",
                    "location": "$message.payload#/correlationid",
                }
            },
        },
    }


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _index(schemas: dict[str, Schema]) -> str:
    lines = [
        "# 事件目录 / Event catalogue",
        "",
        "Generated by `tongxin events catalogue` from `shared/events/`: do not edit by hand.",
        "`asyncapi.json` is the AsyncAPI 3.0 document of the whole stream; `schemas/` holds one",
        "JSON Schema (draft 2020-12) per event type, the schema of the CloudEvent's `data`, named",
        "by its `dataschema` URI. How to consume: [../subscribing.md](../subscribing.md).",
        "",
        "Each district's events are also on `tongxin.d.<district>.v1` (the same records, read",
        "with `read_committed`; one topic per district, for subscribers of one district).",
        "",
        "Personal data (issue 19): no event carries an exact place, a whole name, a phone or an",
        "email. Places (a need's, a volunteer's home) are rounded to 0.01° (about 1 km), names",
        "masked (`王**`), contact targets in a failure masked; each such field's schema says so.",
        "",
        "| type | 中文 | topic | key / subject | schema |",
        "|---|---|---|---|---|",
    ]
    for event_type in schemas:
        cls = EVENT_TYPES[event_type]
        zh = DESCRIPTIONS.get(event_type, ("", ""))[0]
        subject = _field_behind(cls, "subject") or "aggregate id"
        lines.append(
            f"| `{event_type}` | {zh} | `{DEFAULT_NAMESPACE}.{cls.stream}.v1` | `{subject}` "
            f"| [{event_type}.json](schemas/{event_type}.json) |"
        )
    return "\n".join(lines) + "\n"


def render() -> dict[str, str]:
    """Every catalogue file, relative path -> text."""
    schemas = all_schemas()
    files = {
        "asyncapi.json": _dump(build_asyncapi()),
        "README.md": _index(schemas),
    }
    for event_type, schema in schemas.items():
        files[f"schemas/{event_type}.json"] = _dump(schema)
    return files


def existing_files(out_dir: Path) -> dict[str, str]:
    """The catalogue files committed under `out_dir` (same keys as `render()`)."""
    found: dict[str, str] = {}
    for name in ("asyncapi.json", "README.md"):
        if (out_dir / name).is_file():
            found[name] = (out_dir / name).read_text(encoding="utf-8")
    for path in sorted((out_dir / "schemas").glob("*.json")):
        found[f"schemas/{path.name}"] = path.read_text(encoding="utf-8")
    return found


def drift(out_dir: Path) -> list[str]:
    """What differs between the committed catalogue and the code: empty when in step."""
    wanted, found = render(), existing_files(out_dir)
    problems = [f"missing: {n}" for n in sorted(wanted.keys() - found.keys())]
    problems += [f"stale (no such event type): {n}" for n in sorted(found.keys() - wanted.keys())]
    problems += [
        f"out of date: {n}" for n in sorted(wanted) if n in found and found[n] != wanted[n]
    ]
    return problems


def committed_schemas(out_dir: Path) -> dict[str, Schema]:
    """The per-type payload schemas committed under `out_dir/schemas`, by event type."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((out_dir / "schemas").glob("*.json"))
    }


def write(out_dir: Path) -> list[str]:
    """Writes the catalogue (removing schemas of types that are gone); the files changed."""
    wanted, found = render(), existing_files(out_dir)
    (out_dir / "schemas").mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in wanted.items():
        if found.get(name) != text:
            (out_dir / name).write_text(text, encoding="utf-8")
            changed.append(name)
    for name in sorted(found.keys() - wanted.keys()):
        (out_dir / name).unlink()
        changed.append(name)
    return changed
