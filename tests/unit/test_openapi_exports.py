"""The web client is generated from committed OpenAPI exports: they must match the services."""

from __future__ import annotations

from typing import Any

from shared.openapi_export import document, stale
from shared.orgpath import PATTERN as ORG_PATTERN
from shared.settings import SERVICE_PORTS


def test_committed_openapi_exports_match_the_services() -> None:
    assert stale() == [], (
        "run: .venv/bin/python -m shared.openapi_export && (cd web && npm run gen)"
    )


def test_every_document_has_the_bearer_scheme_on_every_operation() -> None:
    for service in sorted(SERVICE_PORTS):
        schema = document(service)
        assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert schema["security"] == [{"bearer": []}], service


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def test_every_operation_documents_the_errors_it_may_answer() -> None:
    """Issue 19: 60 undocumented statuses across 35 operations. Now every operation lists
    400, 413, 422, 429, 431, 503; those that need a token also 401, 403, 404 (and 409 on
    writes); those anyone may call say so (`security: []`)."""
    public = set()
    for service in sorted(SERVICE_PORTS):
        schema = document(service)
        for path, method, op in _operations(schema):
            documented = set(op["responses"])
            assert {"400", "413", "422", "429", "431", "503"} <= documented, (path, method)
            if op.get("security", schema["security"]):
                assert {"401", "403", "404"} <= documented, (service, path, method)
                if method != "get":
                    assert "409" in documented, (service, path, method)
            else:
                public.add(f"{method.upper()} {path}")
    assert {"GET /healthz", "POST /v1/auth/otp", "GET /.well-known/jwks.json"} <= public
    assert not {p for p in public if "/v1/needs" in p or "/v1/volunteers" in p}


def test_the_documents_are_as_strict_as_the_services() -> None:
    """Exactly one claimant form, the pledge signed, org paths by pattern, in the document
    as the service checks them."""
    needs = document("needs")["components"]["schemas"]
    forms = needs["ClaimNeed"]["oneOf"]
    assert [f["title"] for f in forms] == ["volunteer", "team", "organization"]
    assert forms[1]["required"] == ["team_id", "member_ids"]
    volunteers = document("volunteers")
    assert (
        volunteers["components"]["schemas"]["VolunteerCreate"]["properties"]["pledge_signed"][
            "const"
        ]
        is True
    )
    for path, _method, op in _operations(volunteers):
        for param in op.get("parameters", []):
            if param["in"] == "path" and param["name"] in ("path", "district"):
                assert param["schema"]["pattern"] == ORG_PATTERN, (path, param)
            if param["name"] in ("scope", "community_id"):
                patterns = [s.get("pattern") for s in param["schema"].get("anyOf", [])]
                assert ORG_PATTERN in [param["schema"].get("pattern"), *patterns], (path, param)
