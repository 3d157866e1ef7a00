// Generates the typed API client's schema (src/api/schema/<service>.ts) from the committed
// OpenAPI exports in openapi/ (python -m shared.openapi_export writes them).
import { mkdirSync, readdirSync, writeFileSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import openapiTS, { astToString } from "openapi-typescript";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "src/api/schema");
mkdirSync(out, { recursive: true });
for (const file of readdirSync(join(root, "openapi")).filter((f) => f.endsWith(".json"))) {
  const doc = JSON.parse(readFileSync(join(root, "openapi", file), "utf8"));
  const ast = await openapiTS(doc, { defaultNonNullable: false });
  const name = file.replace(/\.json$/, "");
  writeFileSync(join(out, `${name}.ts`), `// generated from openapi/${file}: do not edit\n${astToString(ast)}`);
  console.log(`api: src/api/schema/${name}.ts`);
}
