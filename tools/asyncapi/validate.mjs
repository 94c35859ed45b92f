// Validate an AsyncAPI document with the reference parser (@asyncapi/parser): every error and
// warning is printed; any error fails. Usage: node validate.mjs <document.json>
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs <asyncapi document>");
  process.exit(2);
}
const source = await readFile(path, "utf8");
const { document, diagnostics } = await new Parser().parse(source, { source: path });
const label = (severity) => Object.keys(DiagnosticSeverity).find((k) => DiagnosticSeverity[k] === severity);
const shown = [DiagnosticSeverity.Error, DiagnosticSeverity.Warning];
for (const diagnostic of diagnostics.filter((d) => shown.includes(d.severity))) {
  const where = diagnostic.path.join(".") || "(document)";
  console.log(`${label(diagnostic.severity)} ${where}: ${diagnostic.message}`);
}
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
if (!document || errors.length > 0) {
  console.error(`${path}: ${errors.length} error(s); not a valid AsyncAPI document`);
  process.exit(1);
}
console.log(
  `${path}: valid AsyncAPI ${document.version()}, ${document.messages().length} messages, ` +
    `${document.operations().length} operations`,
);
