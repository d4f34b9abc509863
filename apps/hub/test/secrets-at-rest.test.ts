import { chmod, readFile, rm, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type Incident, isKensaError, topics } from "@kensa/contracts";
import { startWebhookSink, type TempDir, tempDir, type WebhookSink, waitFor } from "@kensa/testkit";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHub } from "../src/index.js";
import { generateSecretKey, SecretBox } from "../src/secrets/secret-box.js";
import { SMTP_PASSWORD_PURPOSE } from "../src/system/secrets-at-rest.js";
import { backends, connectDevice, makeEvent, seed, startHub, type TestHub } from "./helpers.js";

const SECRET = "webhook-secret-at-rest-0123456789";
const list = await backends("secrets-at-rest");

let hooks: WebhookSink;
beforeAll(async () => {
  hooks = await startWebhookSink(SECRET);
});
afterAll(async () => {
  await hooks.close();
  for (const b of list) await b.cleanup();
});

const storedRouting = async (t: TestHub, projectId: string) => {
  const row = await t.hub.store.db
    .selectFrom("projects")
    .select("notifications")
    .where("id", "=", projectId)
    .executeTakeFirstOrThrow();
  return { text: row.notifications, routing: JSON.parse(row.notifications) as { webhooks: Array<{ secret: string }> } };
};

async function raise(t: TestHub, deviceId: string, secret: string): Promise<Incident> {
  const c = await connectDevice(t.mqttUrl, deviceId, secret);
  try {
    const ev = makeEvent(deviceId, { label: "defect", score: 0.9 });
    await c.publishAsync(topics.events(deviceId), JSON.stringify(ev), { qos: 1 });
    return await waitFor("incident", async () => {
      const r = await t.call<{ items: Incident[] }>("GET", "/api/v1/incidents?limit=1000");
      return r.json.items.find((i) => i.eventId === ev.id);
    });
  } finally {
    await c.endAsync(true);
  }
}

/** The error createHub rejects with, or null when it started. */
async function startError(config: Parameters<typeof createHub>[0], env: Record<string, string> = {}) {
  try {
    const hub = await createHub({ logLevel: "silent", http: { host: "127.0.0.1", port: 0 }, ...config }, { env });
    await hub.close();
    return null;
  } catch (err) {
    return err;
  }
}

describe("SecretBox", () => {
  it("opens what it sealed, and refuses another key, an edited value and another purpose with a code", () => {
    const ka = generateSecretKey();
    const a = new SecretBox([ka]);
    const b = new SecretBox([generateSecretKey()]);
    const sealed = a.seal("s3cret", "webhook-secret");
    expect(sealed).toMatch(/^kensa:enc:v1:k[0-9a-f]{8}:[\w-]+:[\w-]+:[\w-]+$/);
    expect(sealed).not.toContain("s3cret");
    expect(a.open(sealed, "webhook-secret")).toBe("s3cret");
    // a fresh IV each time: equal secrets do not show as equal rows
    expect(a.seal("s3cret", "webhook-secret")).not.toBe(sealed);
    const code = (fn: () => unknown) => {
      try {
        fn();
        return null;
      } catch (err) {
        return isKensaError(err) ? err.code : String(err);
      }
    };
    expect(code(() => b.open(sealed, "webhook-secret"))).toBe("KENSA_ERR_SECRETS_KEY_MISMATCH");
    expect(code(() => a.open(sealed, "smtp-password"))).toBe("KENSA_ERR_SECRETS_KEY_MISMATCH");
    const parts = sealed.split(":");
    parts[5] = Buffer.from("t4mpered").toString("base64url");
    expect(code(() => a.open(parts.join(":"), "webhook-secret"))).toBe("KENSA_ERR_SECRETS_KEY_MISMATCH");
    // a box holding both keys (rotation) opens both, and seals with the first
    const both = new SecretBox([{ id: "knew", key: generateSecretKey().key }, ka]);
    expect(both.open(sealed, "webhook-secret")).toBe("s3cret");
    expect(both.isCurrent(both.seal("x", "p"))).toBe(true);
    expect(both.isCurrent(sealed)).toBe(false);
  });
});

describe.each(list)("webhook secrets at rest ($name)", (backend) => {
  it("stores webhook secrets sealed, never returns them, and signs deliveries with the plaintext", async () => {
    const t = await startHub({ database: backend.database() });
    try {
      const { projectId, secrets } = await seed(t.call, `sealed-${backend.name}`, [{ id: `s-${backend.name}` }], {
        notifications: { email: [], webhooks: [{ url: hooks.url, secret: SECRET }], cooldownSec: 0 },
      });
      const { text, routing } = await storedRouting(t, projectId);
      expect(text).not.toContain(SECRET);
      expect(routing.webhooks[0]!.secret).toMatch(/^kensa:enc:v1:/);

      // no reply carries the secret, plaintext or sealed
      for (const path of [`/api/v1/projects/${projectId}`, "/api/v1/projects"]) {
        const r = await t.call("GET", path);
        expect(r.status).toBe(200);
        expect(JSON.stringify(r.json)).not.toContain(SECRET);
        expect(JSON.stringify(r.json)).not.toContain("kensa:enc:");
      }

      const before = hooks.received.length;
      const inc = await raise(t, `s-${backend.name}`, secrets[`s-${backend.name}`]!);
      const hook = await waitFor("webhook", () =>
        hooks.received.slice(before).find((h) => (h.json as { incident: Incident }).incident.id === inc.id),
      );
      expect(hook.signatureValid).toBe(true);

      // an update of something else keeps the secret sealed and working
      await t.call("PATCH", `/api/v1/projects/${projectId}`, { body: { name: "Renamed" } });
      expect((await storedRouting(t, projectId)).text).not.toContain(SECRET);
    } finally {
      await t.close();
    }
  });
});

describe("secrets key at start", () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir("kensa-secrets-");
  });
  afterAll(async () => {
    await dir.remove();
  });

  it("seals plaintext secrets left by an older hub at start, and refuses a missing or wrong key with a code", async () => {
    const keyFile = join(dir.path, "keys", "secrets.key");
    let t = await startHub({}, { dir });
    let projectId: string;
    try {
      ({ projectId } = await seed(t.call, "legacy", [], {
        notifications: { email: [], webhooks: [{ url: hooks.url, secret: SECRET }], cooldownSec: 0 },
      }));
      // as an older hub stored it: the secret in plaintext
      const { routing } = await storedRouting(t, projectId);
      routing.webhooks[0]!.secret = SECRET;
      await t.hub.store.db
        .updateTable("projects")
        .set({ notifications: JSON.stringify(routing) })
        .where("id", "=", projectId)
        .execute();
      expect((await storedRouting(t, projectId)).text).toContain(SECRET);
    } finally {
      await t.close();
    }
    const firstKey = await readFile(keyFile, "utf8");
    const keyId = firstKey.split(":")[0]!;
    t = await startHub({}, { dir });
    try {
      const { text, routing } = await storedRouting(t, projectId);
      expect(text).not.toContain(SECRET);
      expect(routing.webhooks[0]!.secret.startsWith(`kensa:enc:v1:${keyId}:`)).toBe(true);
    } finally {
      await t.close();
    }

    // the key file is gone: the hub must not make a new one and lose the secrets
    await rm(keyFile);
    const missing = await startError({ dataDir: dir.path });
    expect(isKensaError(missing) && missing.code).toBe("KENSA_ERR_SECRETS_KEY_MISSING");
    await expect(readFile(keyFile)).rejects.toThrow(/ENOENT/);

    // another key (a replica given the wrong file)
    const other = generateSecretKey();
    await writeFile(keyFile, `${keyId}:${other.key.toString("base64")}\n`, { mode: 0o600 });
    const wrong = await startError({ dataDir: dir.path });
    expect(isKensaError(wrong) && wrong.code).toBe("KENSA_ERR_SECRETS_KEY_MISMATCH");

    // the right key from env instead of the file
    const fromEnv = await startError({ dataDir: dir.path }, { KENSA_SECRETS_KEY: firstKey });
    expect(fromEnv).toBeNull();

    // rotation: a new key first, the old one after; the start re-seals with the new key
    const lastKey = generateSecretKey();
    await writeFile(keyFile, `knext:${lastKey.key.toString("base64")}\n${firstKey}`, { mode: 0o600 });
    t = await startHub({}, { dir });
    try {
      expect((await storedRouting(t, projectId)).routing.webhooks[0]!.secret.startsWith("kensa:enc:v1:knext:")).toBe(
        true,
      );
    } finally {
      await t.close();
    }
    // and the old key can go
    await writeFile(keyFile, `knext:${lastKey.key.toString("base64")}\n`, { mode: 0o600 });
    expect(await startError({ dataDir: dir.path })).toBeNull();

    const invalid = await startError({ dataDir: dir.path }, { KENSA_SECRETS_KEY: "knext:c2hvcnQ=" });
    expect(isKensaError(invalid) && invalid.code).toBe("KENSA_ERR_SECRETS_KEY_INVALID");
  });
});

describe("SMTP password", () => {
  it("is given sealed in the config and opened only to log in to the SMTP server", async () => {
    const logins: Array<{ username: string; password: string }> = [];
    const mails: string[] = [];
    const server = new SMTPServer({
      allowInsecureAuth: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onAuth(auth, _session, cb) {
        logins.push({ username: auth.username ?? "", password: auth.password ?? "" });
        if (auth.password === "smtp-pass-0123") return cb(null, { user: auth.username });
        return cb(new Error("bad password"));
      },
      onData(stream, session, cb) {
        stream.resume();
        stream.on("end", () => {
          mails.push(session.envelope.rcptTo.map((r) => r.address).join(","));
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const port = (server.server.address() as AddressInfo).port;
    const dir = await tempDir("kensa-smtp-sealed-");
    try {
      const key = generateSecretKey();
      await writeFile(join(dir.path, "key"), `${key.id}:${key.key.toString("base64")}\n`, { mode: 0o600 });
      const sealed = new SecretBox([key]).seal("smtp-pass-0123", SMTP_PASSWORD_PURPOSE);
      let deviceSecret = "";
      const t = await startHub(
        {
          secrets: { keyFile: join(dir.path, "key") },
          smtp: { host: "127.0.0.1", port, user: "kensa", pass: sealed, from: "hub@kensa.test" },
        },
        { dir },
      );
      try {
        const { secrets } = await seed(t.call, "mail", [{ id: "m-1" }], {
          notifications: { email: ["qa@plant.test"], webhooks: [], cooldownSec: 0 },
        });
        deviceSecret = secrets["m-1"]!;
        await raise(t, "m-1", deviceSecret);
        await waitFor("e-mail", () => mails.find((m) => m.includes("qa@plant.test")));
        expect(logins).toEqual([{ username: "kensa", password: "smtp-pass-0123" }]);
      } finally {
        await t.close();
      }
      // or kept out of the config: a file, tightened to 0600
      const passFile = join(dir.path, "smtp-pass");
      await writeFile(passFile, "smtp-pass-0123\n", { mode: 0o644 });
      await chmod(passFile, 0o644);
      const t2 = await startHub(
        {
          secrets: { keyFile: join(dir.path, "key") },
          smtp: { host: "127.0.0.1", port, user: "kensa", passFile, from: "hub@kensa.test" },
        },
        { dir },
      );
      try {
        await raise(t2, "m-1", deviceSecret);
        await waitFor("second login", () => (logins.length >= 2 ? logins : undefined));
        expect(logins[1]).toEqual({ username: "kensa", password: "smtp-pass-0123" });
        expect((await stat(passFile)).mode & 0o777).toBe(0o600);
      } finally {
        await t2.close();
      }
      // sealed with a key the hub does not hold: refused at start, not at the first incident
      const otherKey = generateSecretKey();
      await writeFile(join(dir.path, "key"), `${otherKey.id}:${otherKey.key.toString("base64")}\n`);
      const err = await startError({
        dataDir: dir.path,
        secrets: { keyFile: join(dir.path, "key") },
        smtp: { host: "127.0.0.1", port, user: "kensa", pass: sealed },
      });
      expect(isKensaError(err) && err.code).toBe("KENSA_ERR_SECRETS_KEY_MISMATCH");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dir.remove();
    }
  });
});
