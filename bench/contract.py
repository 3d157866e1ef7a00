"""Which contract calls a service serves yet, read from its app without starting it."""

from __future__ import annotations

import importlib
import re
from functools import cache
from typing import Any


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


@cache
def _openapi(service: str) -> dict[str, Any] | str:
    """The service's OpenAPI document, or why its app could not be built."""
    try:
        module = importlib.import_module(f"services.{service}.app")
        spec: dict[str, Any] = module.create_app().openapi()
    except Exception as exc:  # a service being rewritten right now may not even import
        return f"services.{service} does not load: {type(exc).__name__}: {exc}"
    return spec


def _routes(service: str) -> frozenset[str] | str:
    """'POST /v1/needs/{}/approve' strings, or why the app could not be built."""
    spec = _openapi(service)
    if isinstance(spec, str):
        return spec
    return frozenset(
        f"{method.upper()} {_normalise(path)}"
        for path, ops in spec.get("paths", {}).items()
        for method in ops
    )


def missing(service: str, *calls: str) -> list[str]:
    """The calls of `calls` ('POST /v1/needs/{id}/approve') the service does not serve."""
    routes = _routes(service)
    if isinstance(routes, str):
        return [routes]
    return [c for c in calls if _normalise(c) not in routes]


def response_fields(service: str, call: str) -> frozenset[str]:
    """Top-level fields of the 200/201 response model of a call, from its OpenAPI."""
    spec = _openapi(service)
    if isinstance(spec, str):
        return frozenset()
    method, path = call.split(" ", 1)
    for spec_path, ops in spec.get("paths", {}).items():
        if _normalise(spec_path) != _normalise(path):
            continue
        responses = ops.get(method.lower(), {}).get("responses", {})
        for status in ("200", "201"):
            content = responses.get(status, {}).get("content", {})
            schema = content.get("application/json", {}).get("schema", {})
            ref = schema.get("$ref", "")
            if ref:
                schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
            if schema:
                return frozenset(schema.get("properties", {}))
    return frozenset()
