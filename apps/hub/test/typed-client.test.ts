import { createServer } from "node:net";
import { ApiError, KensaClient } from "@kensa/client";
import { fleetRoutes, peopleRoutes, projectRoutes, systemRoutes } from "@kensa/contracts";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHub, type TestHub } from "./helpers.js";

/** The one typed client against a real hub: each kind of credentials, each kind of reply, and its errors. */
describe("the typed client", () => {
  let t: TestHub;
  let admin: KensaClient;

  beforeAll(async () => {
    t = await startHub({}, { deps: { env: { KENSA_ADMIN_PASSWORD: "admin-password-0123" } } });
    admin = t.client;
  });
  afterAll(async () => {
    await t?.close();
  });

  it("calls routes with a token and answers their typed replies", async () => {
    const created = await admin.call(projectRoutes.create, {
      body: {
        slug: "client-line",
        name: "Client line",
        task: "classification",
        labels: ["ok", "dent"],
        okLabels: ["ok"],
      },
    });
    expect(created).toMatchObject({ slug: "client-line", labels: ["ok", "dent"] });
    const got = await admin.call(projectRoutes.get, { params: { id: created.id } });
    expect(got.id).toBe(created.id);
    const list = await admin.call(projectRoutes.list);
    expect(list.items.map((p) => p.slug)).toContain("client-line");
    const health = await new KensaClient({ baseUrl: t.httpUrl, auth: { kind: "none" } }).call(systemRoutes.health);
    expect(health.status).toBe("ok");
  });

  it("turns the hub's error replies into ApiError with the catalog's code and status", async () => {
    const missing = await admin.call(projectRoutes.get, { params: { id: "prj_nope" } }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApiError);
    expect(missing).toMatchObject({ code: "KENSA_ERR_PROJECT_NOT_FOUND", status: 404 });
    const invalid = await admin
      .call(projectRoutes.create, {
        body: { slug: "Not A Slug", name: "x", task: "classification", labels: [] } as never,
      })
      .catch((e: unknown) => e);
    expect(invalid).toMatchObject({ code: "KENSA_ERR_VALIDATION", status: 400 });
    const stranger = new KensaClient({ baseUrl: t.httpUrl, auth: { kind: "bearer", token: "not-a-token" } });
    await expect(stranger.call(projectRoutes.list)).rejects.toMatchObject({
      code: "KENSA_ERR_UNAUTHORIZED",
      status: 401,
    });
  });

  it("says KENSA_ERR_NETWORK, status 0, when no hub answers", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const gone = new KensaClient({ baseUrl: `http://127.0.0.1:${port}`, auth: { kind: "none" } });
    await expect(gone.call(systemRoutes.health)).rejects.toMatchObject({ code: "KENSA_ERR_NETWORK", status: 0 });
  });

  it("signs writes made with the session cookie with the CSRF header, and the hub needs it", async () => {
    let cookie = "";
    // Node's fetch keeps no cookies: this one plays the browser's jar
    const browser: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      if (cookie) headers.set("cookie", cookie);
      const res = await fetch(input, { ...init, headers });
      const set = res.headers.get("set-cookie");
      if (set) cookie = set.split(";")[0]!;
      return res;
    };
    const console = new KensaClient({ baseUrl: t.httpUrl, auth: { kind: "cookie" }, fetch: browser });
    const session = await console.call(peopleRoutes.login, {
      body: { username: "admin", password: "admin-password-0123" },
    });
    expect(session.user.username).toBe("admin");
    expect(cookie).toMatch(/^kensa_session=/);
    const made = await console.call(projectRoutes.create, {
      body: {
        slug: "cookie-line",
        name: "Cookie line",
        task: "classification",
        labels: ["ok", "scratch"],
        okLabels: ["ok"],
      },
    });
    expect(made.slug).toBe("cookie-line");
    // the same write without the header is what a cross-site form would send
    const forged = new KensaClient({
      baseUrl: t.httpUrl,
      auth: { kind: "none" },
      fetch: (input, init) => browser(input, init),
    });
    await expect(
      forged.call(projectRoutes.create, {
        body: { slug: "forged-line", name: "Forged", task: "classification", labels: ["ok", "x"], okLabels: ["ok"] },
      }),
    ).rejects.toMatchObject({ code: "KENSA_ERR_CSRF_HEADER_MISSING", status: 403 });
    // a route without a reply answers undefined
    expect(await console.call(peopleRoutes.logout)).toBeUndefined();
    await expect(console.call(peopleRoutes.me)).rejects.toMatchObject({ status: 401 });
  });

  it("uploads bytes as a device with Basic credentials and downloads them as bytes", async () => {
    const project = await admin.call(projectRoutes.create, {
      body: {
        slug: "device-line",
        name: "Device line",
        task: "classification",
        labels: ["ok", "dent"],
        okLabels: ["ok"],
      },
    });
    const enrolled = await admin.call(fleetRoutes.enroll, {
      body: { projectId: project.id, id: "cam-client", tags: [] },
    });
    const device = new KensaClient({
      baseUrl: t.httpUrl,
      auth: { kind: "device", deviceId: "cam-client", secret: enrolled.secret },
    });
    const jpeg = new Uint8Array(
      await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 200, g: 40, b: 40 } } })
        .jpeg()
        .toBuffer(),
    );
    expect(
      await device.call(fleetRoutes.uploadFrame, {
        params: { id: "cam-client" },
        upload: jpeg,
        contentType: "image/jpeg",
      }),
    ).toBeUndefined();
    const back = await admin.call(fleetRoutes.getFrame, { params: { id: "cam-client" } });
    expect(back).toBeInstanceOf(Uint8Array);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(jpeg))).toBe(0);
    const impostor = new KensaClient({
      baseUrl: t.httpUrl,
      auth: { kind: "device", deviceId: "cam-client", secret: "wrong-secret" },
    });
    await expect(
      impostor.call(fleetRoutes.uploadFrame, { params: { id: "cam-client" }, upload: jpeg, contentType: "image/jpeg" }),
    ).rejects.toMatchObject({ code: "KENSA_ERR_UNAUTHORIZED", status: 401 });
  });

  it("builds URLs from a route's path, encoding parameters; absent query values are left out, empty ones sent", () => {
    const c = new KensaClient({ baseUrl: "http://hub.example:8080/", auth: { kind: "none" } });
    expect(c.url(projectRoutes.get, { params: { id: "a b/c" } })).toBe(
      "http://hub.example:8080/api/v1/projects/a%20b%2Fc",
    );
    expect(c.url(fleetRoutes.list, { query: { projectId: "p1", tag: undefined, retired: null } as never })).toBe(
      "http://hub.example:8080/api/v1/devices?projectId=p1",
    );
    // an empty string is a value (an import's empty mask suffix), not an absence
    expect(c.url(fleetRoutes.list, { query: { projectId: "" } })).toBe(
      "http://hub.example:8080/api/v1/devices?projectId=",
    );
    expect(() => c.url(projectRoutes.get)).toThrow(/missing path parameter id/);
  });
});
