// Writes docs/asyncapi.yaml from the contracts (`npm run docs:asyncapi`); a test keeps the file
// equal to what the contracts generate.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { asyncApiDocument, PROTOCOL_VERSION } from "@kensa/contracts";
import { stringify } from "yaml";

const file = join(import.meta.dirname, "..", "docs", "asyncapi.yaml");
const header = "# The device protocol (MQTT), generated from packages/contracts by `npm run docs:asyncapi`.\n";
writeFileSync(file, header + stringify(asyncApiDocument({ version: String(PROTOCOL_VERSION) }), { lineWidth: 0 }));
process.stdout.write(`wrote ${file}\n`);
