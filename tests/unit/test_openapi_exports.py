"""The web client is generated from committed OpenAPI exports: they must match the services."""

from __future__ import annotations

from shared.openapi_export import EXPORT_DIR, document, stale


def test_committed_openapi_exports_match_the_services() -> None:
    assert stale() == [], (
        "run: .venv/bin/python -m shared.openapi_export && (cd web && npm run gen)"
    )


def test_every_document_has_the_bearer_scheme_on_every_operation() -> None:
    for path in sorted(EXPORT_DIR.glob("*.json")):
        schema = document(path.stem)
        assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert schema["security"] == [{"bearer": []}], path.stem
