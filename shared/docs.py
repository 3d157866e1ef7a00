"""Every service's API documents: a bearer security scheme (Swagger UI's Authorize button) and
/docs served from local Swagger UI assets, so it works offline and under a strict CSP.

The assets come from the npm package swagger-ui-dist, copied by the web build into
`web/dist/swagger-ui/` (TONGXIN_SWAGGER_UI_DIR elsewhere). The page has no inline script, and
every URL in it is relative, so it also works behind the gateway at /api/<service>/docs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI_DIR = Path(
    os.environ.get(
        "TONGXIN_SWAGGER_UI_DIR",
        str(Path(__file__).resolve().parents[1] / "web" / "dist" / "swagger-ui"),
    )
)
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "Access token from the identity service (POST /v1/auth/token) / 访问令牌",
}
# The one-minute ticket of `POST /v1/inbox/stream-ticket` in the URL of the inbox stream
# (a browser's EventSource sends no headers): the stream takes it or the bearer token.
STREAM_TICKET = {
    "type": "apiKey",
    "in": "query",
    "name": "ticket",
    "description": "Stream ticket from POST /v1/inbox/stream-ticket (one minute) / 收件箱流票据",
}
PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/tongxin-init.js"></script>
</body>
</html>
"""
MISSING = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{title}</title>
<p>接口文档的页面资源未构建：请运行 <code>make web</code>。 /
Swagger UI assets are not built: run <code>make web</code>.
The document itself is at <a href="openapi.json">openapi.json</a>.</p></html>
"""


def with_bearer(schema: dict[str, Any]) -> dict[str, Any]:
    """The document with a `bearer` scheme required by every operation but those marked
    `shared.http.PUBLIC` (health, sign-in, public keys, pages: `security: []`)."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["bearer"] = BEARER
    if any(
        {"stream_ticket": []} in operation.get("security", [])
        for operations in schema.get("paths", {}).values()
        for operation in operations.values()
    ):
        schemes["stream_ticket"] = STREAM_TICKET
    schema["security"] = [{"bearer": []}]
    return schema


def install_docs(app: FastAPI) -> None:
    """For an app made with docs_url=None: the bearer scheme and the offline /docs page."""
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_bearer(plain_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        title = f"{app.title} — API"
        if not (SWAGGER_UI_DIR / "swagger-ui-bundle.js").is_file():
            return HTMLResponse(MISSING.format(title=title), status_code=503)
        return HTMLResponse(PAGE.format(title=title))

    if SWAGGER_UI_DIR.is_dir():
        app.mount("/docs/assets", StaticFiles(directory=SWAGGER_UI_DIR), name="docs-assets")
