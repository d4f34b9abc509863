import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { errorCatalog, KensaError } from "../src/errors.js";

const doc = readFileSync(join(import.meta.dirname, "../../../docs/errors.md"), "utf8");

describe("the error catalog", () => {
  it("documents every code with its HTTP status", () => {
    const missing = Object.entries(errorCatalog)
      .filter(([code, { status }]) => !new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`).test(doc))
      .map(([code]) => code);
    expect(missing, "codes missing from docs/errors.md (or with the wrong status)").toEqual([]);
  });

  it("documents no code that does not exist", () => {
    const documented = [...doc.matchAll(/`(KENSA_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]!);
    expect(documented.filter((c) => !(c in errorCatalog))).toEqual([]);
  });

  it("carries the code and status on thrown errors", () => {
    const e = new KensaError("KENSA_ERR_DEVICE_NOT_FOUND");
    expect(e.status).toBe(404);
    expect(e.code).toBe("KENSA_ERR_DEVICE_NOT_FOUND");
    expect(e.message).toBe(errorCatalog.KENSA_ERR_DEVICE_NOT_FOUND.message);
  });
});
