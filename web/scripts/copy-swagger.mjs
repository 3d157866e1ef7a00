// Copies Swagger UI's assets (npm swagger-ui-dist) into dist/swagger-ui/, where every service's
// /docs page loads them from (shared/docs.py): no CDN, and an init script instead of inline JS.
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const from = join(root, "node_modules/swagger-ui-dist");
const to = join(root, "dist/swagger-ui");
mkdirSync(to, { recursive: true });
for (const f of ["swagger-ui.css", "swagger-ui-bundle.js"]) cpSync(join(from, f), join(to, f));
writeFileSync(
  join(to, "tongxin-init.js"),
  `// Behind the gateway the page is /api/<service>/docs: "Try it out" calls go under that prefix.
var base = location.pathname.replace(/docs\\/?$/, "");
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  requestInterceptor: function (req) {
    var u = new URL(req.url, location.href);
    if (base !== "/" && u.origin === location.origin && u.pathname.indexOf(base) !== 0) {
      u.pathname = base.replace(/\\/$/, "") + u.pathname;
      req.url = u.toString();
    }
    return req;
  },
});
`,
);
console.log("swagger-ui: dist/swagger-ui/");
