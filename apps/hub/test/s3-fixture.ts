import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { Agent, type IncomingHttpHeaders, type IncomingMessage, type Server } from "node:http";
import { createRequire } from "node:module";
import type { LookupFunction } from "node:net";
import { join } from "node:path";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { tempDir } from "@kensa/testkit";
import { S3BlobStore, type S3BlobStoreOptions } from "../src/blobstore/s3/s3-blob-store.js";

/** s3rver (an S3-protocol server from npm, files in a folder) as much of it as the tests use. */
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  httpServer: Server;
}
type S3rverClass = new (o: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;

/** s3rver's fixed credentials: it checks every request's signature against them */
export const S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/**
 * `*.localhost` names resolve to the loopback here, as browsers and systemd do, so a
 * virtual-host bucket (`<bucket>.s3.localhost`) reaches the local server.
 */
export const localhostLookup: LookupFunction = (hostname, options, callback) => {
  if (hostname === "localhost" || hostname.endsWith(".localhost")) {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [{ address: "127.0.0.1", family: 4 }]);
    } else callback(null, "127.0.0.1", 4);
    return;
  }
  dnsLookup(hostname, options, callback);
};

export interface S3Server {
  port: number;
  /** path-style endpoint (an IP literal) */
  endpoint: string;
  /** endpoint for virtual-host buckets: `<bucket>.s3.localhost` */
  vhostEndpoint: string;
  dir: string;
  /** requests seen, as "METHOD path?query host" */
  requests: string[];
  /** the same requests with their headers */
  seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  /** stops the server, keeping its files (a restart on `port` finds the same objects) */
  stop(): Promise<void>;
  /** starts it again on the same port and folder */
  restart(): Promise<void>;
  remove(): Promise<void>;
}

/** An S3 server on an ephemeral loopback port with the given buckets. */
export async function startS3Server(buckets: string[]): Promise<S3Server> {
  const d = await tempDir("kensa-s3-");
  const dir = join(d.path, "s3");
  const requests: string[] = [];
  const seen: S3Server["seen"] = [];
  let instance: S3rverInstance | null = null;
  const start = async (port: number): Promise<number> => {
    const srv = new S3rver({
      address: "127.0.0.1",
      port,
      silent: true,
      directory: dir,
      serviceEndpoint: "localhost",
      vhostBuckets: true,
      configureBuckets: buckets.map((name) => ({ name })),
    });
    const addr = await srv.run();
    srv.httpServer.prependListener("request", (req: IncomingMessage) => {
      requests.push(`${req.method} ${req.url} ${req.headers.host}`);
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    });
    instance = srv;
    return addr.port;
  };
  const port = await start(0);
  const stop = async () => {
    const srv = instance;
    instance = null;
    if (!srv) return;
    srv.httpServer.closeAllConnections();
    await srv.close();
  };
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    vhostEndpoint: `http://s3.localhost:${port}`,
    dir,
    requests,
    seen,
    stop,
    async restart() {
      await start(port);
    },
    async remove() {
      await stop();
      await d.remove();
    },
  };
}

/** An S3BlobStore on `server`'s bucket with test-sized parts (`over` changes any option). */
export function s3Store(
  server: S3Server,
  bucket: string,
  prefix: string,
  spoolDir: string,
  over: Partial<S3BlobStoreOptions> = {},
): S3BlobStore {
  return new S3BlobStore({
    bucket,
    prefix,
    endpoint: server.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
    checksum: "sha256",
    partSizeBytes: 5 * 1024 * 1024,
    partConcurrency: 2,
    maxAttempts: 2,
    timeoutMs: 5_000,
    spoolDir,
    agent: new Agent({ keepAlive: true, lookup: localhostLookup }),
    ...over,
  });
}

/** Overwrites an object behind the store's back, as a faulty disk or a bucket tool would. */
export async function overwriteObject(server: S3Server, bucket: string, key: string, body: Uint8Array): Promise<void> {
  const client = new S3Client({
    endpoint: server.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: S3_CREDENTIALS,
  });
  try {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  } finally {
    client.destroy();
  }
}
