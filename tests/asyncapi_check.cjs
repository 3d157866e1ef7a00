// Parses an AsyncAPI document with the real @asyncapi/parser and prints a JSON report:
//   node tests/asyncapi_check.cjs <document> [node-prefix]
// node-prefix defaults to var/node (where `deploy/local/infra.sh install` puts the parser).
// Exit code 0 when the document has no error diagnostics, 1 otherwise.
"use strict";

const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

async function main() {
  const [docPath, prefixArg] = process.argv.slice(2);
  if (!docPath) {
    console.error("usage: node asyncapi_check.cjs <document> [node-prefix]");
    process.exit(2);
  }
  const prefix = path.resolve(prefixArg || path.join(__dirname, "..", "var", "node"));
  const requireFromPrefix = createRequire(path.join(prefix, "package.json"));
  const { Parser, fromFile } = requireFromPrefix("@asyncapi/parser");

  const parser = new Parser();
  const { document, diagnostics } = await fromFile(parser, path.resolve(docPath)).parse();
  const severities = ["error", "warning", "info", "hint"];
  const report = {
    valid: document !== undefined,
    diagnostics: diagnostics.map((d) => ({
      severity: severities[d.severity] || String(d.severity),
      code: d.code,
      message: d.message,
      path: d.path.join("/"),
    })),
    version: document ? document.version() : null,
    channels: {},
    messages: [],
    operations: [],
  };
  if (document) {
    for (const channel of document.allChannels()) {
      report.channels[channel.id()] = {
        address: channel.address(),
        messages: channel.messages().all().map((m) => m.name()),
      };
    }
    report.messages = document.allMessages().all().map((m) => ({
      id: m.id(),
      name: m.name(),
      hasPayload: m.hasPayload(),
      payloadType: m.hasPayload() ? m.payload().type() : null,
    }));
    report.operations = document.allOperations().all().map((o) => ({
      id: o.id(),
      action: o.action(),
      channels: o.channels().all().map((c) => c.address()),
    }));
  }
  fs.writeSync(1, JSON.stringify(report, null, 2) + "\n");
  process.exit(report.valid && !report.diagnostics.some((d) => d.severity === "error") ? 0 : 1);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(3);
});
