"""Committed exports of each service's OpenAPI document, from which the web apps' API client
is generated (web/scripts/gen-api.mjs). `python -m shared.openapi_export` rewrites them;
`--check` exits 1 naming the stale ones (tests/unit/test_openapi_exports.py runs the same check).
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any

from shared.settings import SERVICE_PORTS

EXPORT_DIR = Path(__file__).resolve().parents[1] / "web" / "openapi"


def document(service: str) -> dict[str, Any]:
    """The service's document as its app serves it at /openapi.json (no I/O: no lifespan)."""
    module = importlib.import_module(f"services.{service}.app")
    schema: dict[str, Any] = module.create_app().openapi()
    return schema


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def stale(export_dir: Path = EXPORT_DIR) -> list[str]:
    """The services whose committed export differs from their current document."""
    out = []
    for service in sorted(SERVICE_PORTS):
        path = export_dir / f"{service}.json"
        if not path.is_file() or path.read_text(encoding="utf-8") != render(document(service)):
            out.append(service)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale exports")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        for name in names:
            print(f"stale: web/openapi/{name}.json (run: python -m shared.openapi_export)")
        return 1 if names else 0
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    for service in sorted(SERVICE_PORTS):
        (EXPORT_DIR / f"{service}.json").write_text(render(document(service)), encoding="utf-8")
        print(f"wrote web/openapi/{service}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
