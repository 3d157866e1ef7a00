"""The web client is generated from committed OpenAPI exports: they must match the services."""

from __future__ import annotations

from shared.openapi_export import document, stale
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
