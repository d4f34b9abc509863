import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { allRoutes, asyncApiDocument, mqttChannels, openApiDocument, openApiPath, topics } from "../src/index.js";

const repo = join(import.meta.dirname, "..", "..", "..");

describe("OpenAPI document", () => {
  const doc = openApiDocument({ version: "1" }) as {
    paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
  };

  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const res = await validator.validate(doc as never);
    expect(res.errors ?? [], JSON.stringify(res.errors, null, 1)?.slice(0, 2000)).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("has every route of every table, once, with its success reply and its errors", () => {
    const routes = allRoutes();
    expect(routes.length).toBeGreaterThan(0);
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p));
    expect(ops).toHaveLength(routes.length);
    for (const { domain, name, spec } of routes) {
      const op = doc.paths[openApiPath(spec.path)]?.[spec.method.toLowerCase()];
      expect(op?.operationId, `${spec.method} ${spec.path}`).toBe(`${domain}.${name}`);
      expect(Object.keys(op?.responses ?? {})).toContain(String(spec.status ?? 200));
      for (const code of spec.errors ?? []) {
        const described = Object.values(op?.responses ?? {}).some((r) =>
          String((r as { description?: string }).description).includes(code),
        );
        expect(described, `${spec.method} ${spec.path} documents ${code}`).toBe(true);
      }
    }
  });

  it("declares every path parameter of a route in its table", () => {
    for (const { spec } of allRoutes()) {
      const names = [...spec.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
      const declared = Object.keys((spec.params as { properties?: object } | undefined)?.properties ?? {});
      expect(declared.sort(), `${spec.method} ${spec.path}`).toEqual(names.sort());
    }
  });
});

describe("AsyncAPI document", () => {
  const generated = asyncApiDocument({ version: "1" });

  it("is a valid AsyncAPI 3 document", async () => {
    const { document, diagnostics } = await new Parser().parse(JSON.stringify(generated));
    const errors = diagnostics.filter((d) => d.severity === 0);
    expect(errors.map((d) => `${d.path.join("/")}: ${d.message}`)).toEqual([]);
    expect(document?.version()).toBe("3.0.0");
  });

  it("has every channel of the protocol, with the address the topics use", () => {
    const channels = generated.channels as Record<string, { address: string }>;
    expect(Object.keys(channels).sort()).toEqual(Object.keys(mqttChannels).sort());
    for (const [name, ch] of Object.entries(channels)) {
      const build = topics[name as keyof typeof mqttChannels];
      expect(ch.address.replace("{deviceId}", "cam-1")).toBe(build("cam-1"));
    }
  });

  it("is what the repository carries in docs/asyncapi.yaml (regenerate with npm run docs:asyncapi)", () => {
    const carried = parse(readFileSync(join(repo, "docs", "asyncapi.yaml"), "utf8"));
    expect(carried).toEqual(JSON.parse(JSON.stringify(asyncApiDocument({ version: carried.info.version }))));
  });
});
