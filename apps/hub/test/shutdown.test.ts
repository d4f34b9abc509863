import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { topics } from "@kensa/contracts";
import { waitFor } from "@kensa/testkit";
import { buildFixedOutputModel } from "@kensa/vision/graph";
import { Aedes } from "aedes";
import { afterEach, describe, expect, it } from "vitest";
import { seed, startHub } from "./helpers.js";

/**
 * close() must finish whatever the network does: a hub that never stops blocks a service
 * restart (systemd waits, then kills it without closing the database cleanly).
 */
/** A raw TCP connection to the host and port of `url`, and a promise of its end. */
async function openSocket(url: string): Promise<{ socket: Socket; gone: Promise<void> }> {
  const { port, hostname } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  return { socket, gone: new Promise<void>((resolve) => socket.once("close", () => resolve())) };
}

describe("hub shutdown", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("does not wait forever for an external broker that stopped acknowledging", async () => {
    const aedes = await Aedes.createBroker();
    let answer = true;
    const desiredSeen: string[] = [];
    // once `answer` is off, the hub's publishes are neither authorised nor refused: no PUBACK ever
    aedes.authorizePublish = (_client, packet, done) => {
      if (answer) return done(null);
      desiredSeen.push(packet.topic);
    };
    const server = createServer(aedes.handle);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    cleanups.push(async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    });
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const t = await startHub({ mqtt: { embedded: { enabled: false }, url } });

    const { projectId } = await seed(t.call, "stuck", []);
    answer = false;
    // a new device's desired state is published (QoS 1, retained) and stays unacknowledged,
    // with the API request that enrolled it waiting for that acknowledgement
    const enrol = t.call("POST", "/api/v1/devices", { body: { projectId, id: "stuck-1", tags: [] } });
    await waitFor("desired publish held by the broker", () => desiredSeen.includes(topics.desired("stuck-1")));

    // without bounds, close() waits for that PUBACK forever (the test's 15 s fail first)
    await t.close();
    expect(t.hub.closing).toBeNull();
    // the hub's connection is gone too (a socket left open would keep the process alive)
    await waitFor("the hub's connection closed at the broker", () => aedes.connectedClients === 0, { timeoutMs: 3000 });
    // the device was enrolled; its desired state goes out when the hub next connects
    expect((await enrol).status).toBe(201);
  }, 15_000);

  it("closes the embedded broker while a socket is connected that never sent CONNECT", async () => {
    const t = await startHub();
    const { gone } = await openSocket(t.mqttUrl);
    // Aedes would drop this socket only after its 30 s connect timeout; the test's 15 s bound fails first
    await t.close();
    await gone;
    expect(t.hub.closing).toBeNull();
  }, 15_000);

  it("closes a keep-alive connection whose request was still arriving when close() began", async () => {
    const t = await startHub();
    const { socket, gone } = await openSocket(t.httpUrl);
    const { hostname } = new URL(t.httpUrl);
    const replies: string[] = [];
    socket.on("data", (d: Buffer) => replies.push(d.toString()));
    const body = JSON.stringify({ name: "arriving", slug: "arriving", task: "classification", labels: ["ok"] });
    socket.write(
      `POST /api/v1/projects HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${t.hub.adminToken}\r\n` +
        `content-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: keep-alive\r\n\r\n`,
    );
    socket.write(body.slice(0, 10));
    const closing = t.close();
    // the rest of the body arrives once the HTTP server is already closing
    await waitFor("closing http", () => t.hub.closing === "http");
    socket.write(body.slice(10));
    // Node would keep the now idle connection for its keep-alive timeout (72 s); the test's 15 s fail first
    await closing;
    await gone;
    expect(replies.join("")).toMatch(/^HTTP\/1\.1 \d{3}/);
  }, 15_000);
});

describe("hub shutdown with a download in progress", () => {
  it("lets a slow reader finish a model download that was streaming when close() began", async () => {
    const t = await startHub();
    try {
      const { projectId } = await seed(t.call, "big", []);
      // 2 labels, and a second output that only makes the file large (24 MB of zeros)
      const onnx = buildFixedOutputModel({
        input: "image",
        width: 8,
        height: 8,
        outputs: [
          { name: "scores", dims: [1, 2], values: [0.9, 0.1] },
          { name: "ballast", dims: [1, 6_000_000], values: new Float32Array(6_000_000) },
        ],
      });
      const form = new FormData();
      form.set("projectId", projectId);
      form.set(
        "manifest",
        JSON.stringify({
          task: "classification",
          input: { name: "image", width: 8, height: 8, channels: 3, layout: "NCHW" },
          preprocessing: { resize: "stretch", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
          labels: ["ok", "defect"],
          okLabels: ["ok"],
          postprocessing: { type: "classification", activation: "none", output: "scores" },
          thresholds: { default: 0.5, perClass: {} },
        }),
      );
      form.set("model", new Blob([onnx as BlobPart]), "big.onnx");
      const up = await t.call<{ id: string }>("POST", "/api/v1/models", { raw: form });
      expect(up.status, JSON.stringify(up.json)).toBe(201);

      // a reader that takes 4 MB of the 24, then stops reading while the hub closes: the
      // download is still streaming when close() begins, and must reach its end
      const { socket, gone } = await openSocket(t.httpUrl);
      const chunks: Buffer[] = [];
      let received = 0;
      let stopped = false;
      socket.on("data", (d: Buffer) => {
        chunks.push(d);
        received += d.length;
        if (!stopped && received > 4_000_000) {
          stopped = true;
          socket.pause();
        }
      });
      socket.write(
        `GET /api/v1/models/${up.json.id}/file HTTP/1.1\r\nhost: kensa\r\n` +
          `authorization: Bearer ${t.hub.adminToken}\r\nconnection: keep-alive\r\n\r\n`,
      );
      await waitFor("most of the download", () => socket.isPaused());
      const closing = t.close();
      await waitFor("closing http", () => t.hub.closing === "http" || t.hub.closing === null);
      await new Promise((r) => setTimeout(r, 300));
      socket.resume();
      await closing;
      await gone;
      const all = Buffer.concat(chunks);
      const headerEnd = all.indexOf("\r\n\r\n");
      expect(all.subarray(0, headerEnd).toString()).toMatch(/^HTTP\/1\.1 200/);
      expect(all.length - headerEnd - 4).toBe(onnx.byteLength);
    } finally {
      await t.close();
    }
  }, 30_000);
});
