import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  json: unknown;
  /** whether x-kensa-signature matched HMAC-SHA256(secret, "<timestamp>.<body>") */
  signatureValid: boolean;
}

/** A real HTTP server that receives webhooks and checks Kensa's signature. */
export interface WebhookSink {
  url: string;
  received: ReceivedWebhook[];
  /** reply status for the next requests (to test retries) */
  setStatus(status: number): void;
  close(): Promise<void>;
}

export function verifyKensaSignature(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const ts = headers["x-kensa-timestamp"];
  const sig = headers["x-kensa-signature"];
  if (typeof ts !== "string" || typeof sig !== "string" || !sig.startsWith("sha256=")) return false;
  const want = createHmac("sha256", secret).update(`${ts}.${body}`).digest();
  const got = Buffer.from(sig.slice("sha256=".length), "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}

export async function startWebhookSink(secret: string): Promise<WebhookSink> {
  const received: ReceivedWebhook[] = [];
  let status = 204;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        json = null;
      }
      received.push({
        headers: req.headers,
        body,
        json,
        signatureValid: verifyKensaSignature(secret, req.headers, body),
      });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/kensa`,
    received,
    setStatus: (s) => {
      status = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
