// Validates an AsyncAPI document with the official parser (@asyncapi/parser, from the npm
// registry) and prints what it parsed, as JSON on stdout, for realtime/tests/test_asyncapi.py:
// {diagnostics: [{severity, code, message, path}], valid, channels: [{address, messages}],
//  operations: [{id, action, channel, messages, reply}]}. Exit 0 when there is no error.
//   node validate_asyncapi.mjs path/to/asyncapi.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Parser, DiagnosticSeverity } = require("@asyncapi/parser");

const text = readFileSync(process.argv[2], "utf8");
const { document, diagnostics } = await new Parser().parse(text);
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
const out = {
  valid: document !== undefined && errors.length === 0,
  diagnostics: diagnostics.map((d) => ({
    severity: d.severity,
    code: d.code,
    message: d.message,
    path: d.path.join("/"),
  })),
};
if (document) {
  out.version = document.version();
  out.channels = document.channels().all().map((c) => ({
    id: c.id(),
    address: c.address(),
    messages: c.messages().all().map((m) => m.name()),
  }));
  out.operations = document.operations().all().map((op) => ({
    id: op.id(),
    action: op.action(),
    channel: op.channels().all().map((c) => c.address())[0],
    messages: op.messages().all().map((m) => ({ name: m.name(), payload: m.payload()?.json() })),
    reply: op.reply()?.messages().all().map((m) => m.name()) ?? null,
  }));
}
process.stdout.write(JSON.stringify(out));
process.exit(out.valid ? 0 : 1);
