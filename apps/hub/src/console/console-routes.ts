import { type FileHandle, open, realpath } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { KensaError } from "@kensa/contracts";
import type { FastifyInstance, FastifyReply } from "fastify";
import { contentTypeOf } from "./content-types.js";

/** apps/web/dist of this checkout: where `npm run build -w @kensa/web` writes the console */
export function defaultConsoleDir(): string {
  return fileURLToPath(new URL("../../../web/dist", import.meta.url));
}

/** Vite puts content-hashed files here: a changed file gets a new name, so caching forever is safe. */
const HASHED_DIR = "/assets/";

/**
 * Serves the built web console from `dir`: its files, and index.html for every other GET
 * outside /api so client-side routes (e.g. /incidents/:id from a notification) load the app.
 * When the console is not built, every such page explains how to build it.
 */
export function consoleRoutes(app: FastifyInstance, opts: { dir: string }): void {
  const root = resolve(opts.dir);
  app.get("/*", { config: { auth: "public" } }, async (req, reply) => {
    const path = req.url.split("?")[0]!;
    if (path === "/api" || path.startsWith("/api/")) {
      throw new KensaError("KENSA_ERR_NOT_FOUND", `no route ${req.method} ${path}`);
    }
    const base = await realpathOrNull(root);
    if (!base) return notBuilt(reply, root);

    let rel: string;
    try {
      rel = decodeURIComponent(path);
    } catch {
      throw new KensaError("KENSA_ERR_NOT_FOUND", "malformed path");
    }
    // resolve() folds "..", and realpath() follows links: either may point outside the console
    const wanted = rel.includes("\0") ? null : resolve(base, `.${rel}`);
    if (!wanted || !inside(base, wanted)) throw new KensaError("KENSA_ERR_NOT_FOUND", `no file ${path}`);
    const real = await realpathOrNull(wanted);
    if (real && !inside(base, real)) throw new KensaError("KENSA_ERR_NOT_FOUND", `no file ${path}`);
    const file = real ? await openFile(real) : null;
    if (file) return send(reply, real!, file, rel.startsWith(HASHED_DIR));

    // A missing script or image must fail as such, not arrive as HTML; a page navigation
    // (the browser asks for HTML) or an extension-less path is a client-side route.
    const navigation = (req.headers.accept ?? "").includes("text/html");
    if (!navigation && extname(rel) !== "") throw new KensaError("KENSA_ERR_NOT_FOUND", `no file ${path}`);
    const indexPath = join(base, "index.html");
    const index = await openFile(indexPath);
    if (!index) return notBuilt(reply, root);
    return send(reply, indexPath, index, false);
  });
}

interface OpenFile {
  handle: FileHandle;
  size: number;
}

/**
 * Streams exactly the `size` bytes measured on the open handle: a console rebuilt while it is
 * served (vite replaces its files) can then never make the body disagree with Content-Length,
 * which would leave the response, and the hub's shutdown, hanging.
 */
function send(reply: FastifyReply, path: string, file: OpenFile, immutable: boolean): FastifyReply {
  reply
    .type(contentTypeOf(path))
    .header("content-length", file.size)
    .header("x-content-type-options", "nosniff")
    .header("cache-control", immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (file.size === 0) {
    void file.handle.close();
    return reply.send("");
  }
  return reply.send(file.handle.createReadStream({ start: 0, end: file.size - 1, autoClose: true }));
}

function notBuilt(reply: FastifyReply, dir: string): FastifyReply {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kensa hub</title>
<style>body{font:16px system-ui,sans-serif;margin:3rem auto;max-width:40rem;color:#222}code{background:#f3f3f3;padding:.1rem .3rem}</style>
</head><body>
<h1>Kensa hub</h1>
<p>The hub is running, but the web console is not built.</p>
<p>Build it with <code>npm run build -w @kensa/web</code>, then reload this page. The hub serves it from
<code>${escapeHtml(dir)}</code> (hub config <code>web.dir</code>).</p>
<p>The API is at <code>/api/v1</code>.</p>
</body></html>
`;
  return reply.type("text/html; charset=utf-8").header("cache-control", "no-cache").send(html);
}

function inside(base: string, p: string): boolean {
  return p === base || p.startsWith(base.endsWith(sep) ? base : base + sep);
}

async function realpathOrNull(p: string): Promise<string | null> {
  try {
    return await realpath(p);
  } catch {
    return null;
  }
}

/** The regular file at `p`, opened, or null; the caller owns the handle. */
async function openFile(p: string): Promise<OpenFile | null> {
  let handle: FileHandle;
  try {
    handle = await open(p, "r");
  } catch {
    return null;
  }
  try {
    const st = await handle.stat();
    if (st.isFile()) return { handle, size: st.size };
  } catch {
    // fall through: not servable
  }
  await handle.close();
  return null;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
