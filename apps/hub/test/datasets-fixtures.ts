import type { DatasetImport, Sample } from "@kensa/contracts";
import sharp from "sharp";
import type { ApiCall, TestHub } from "./helpers.js";
import { rawTar, rawZip } from "./raw-archives.js";

export { rawTar };

/** A small image whose pixels depend on `seed`, so every seed has its own hash. */
export async function image(seed: number, format: "jpeg" | "png" = "jpeg", width = 48, height = 40): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  let x = seed * 2654435761;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = (x >>> 16) & 0xff;
  }
  const img = sharp(data, { raw: { width, height, channels: 3 } });
  return format === "png" ? img.png().toBuffer() : img.jpeg({ quality: 90 }).toBuffer();
}

/** A grey mask PNG with a filled rectangle (255) on black, as annotation tools write them. */
export async function maskPng(width: number, height: number, r: { x: number; y: number; w: number; h: number }) {
  const data = Buffer.alloc(width * height);
  for (let y = r.y; y < r.y + r.h; y++) for (let x = r.x; x < r.x + r.w; x++) data[y * width + x] = 255;
  return sharp(data, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
}

export interface FixtureFile {
  path: string;
  data: Uint8Array;
}

/** Packs regular files as given, hostile names included (`../x` for zip-slip tests). */
export function pack(files: FixtureFile[], type: "zip" | "tar"): Buffer {
  return type === "zip" ? rawZip(files) : rawTar(files.map((f) => ({ name: f.path, data: f.data })));
}

export async function importArchive(
  call: ApiCall,
  projectId: string,
  archive: Buffer,
  query: Record<string, string | boolean>,
): Promise<{ status: number; json: DatasetImport & { error: { code: string; message: string } | null } }> {
  const qs = new URLSearchParams({
    wait: "true",
    ...Object.fromEntries(Object.entries(query).map(([k, v]) => [k, String(v)])),
  });
  return call("POST", `/api/v1/projects/${projectId}/imports?${qs}`, {
    headers: { "content-type": "application/octet-stream" },
    raw: archive,
  });
}

export async function exportArchive(t: TestHub, projectId: string, query: Record<string, string>): Promise<Buffer> {
  const res = await fetch(`${t.httpUrl}/api/v1/projects/${projectId}/export?${new URLSearchParams(query)}`, {
    headers: { authorization: `Bearer ${t.hub.adminToken}` },
  });
  if (res.status !== 200) throw new Error(`export: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

export async function allSamples(call: ApiCall, projectId: string): Promise<Sample[]> {
  const out: Sample[] = [];
  let after = "";
  for (;;) {
    const r = await call<{ items: Sample[] }>(
      "GET",
      `/api/v1/projects/${projectId}/samples?limit=1000${after ? `&after=${after}` : ""}`,
    );
    out.push(...r.json.items);
    if (r.json.items.length < 1000) return out;
    after = r.json.items.at(-1)!.id;
  }
}

/** image sha256 → label content hash (null: unlabeled), the identity export → import keeps */
export async function labelsByImage(call: ApiCall, projectId: string): Promise<Map<string, string | null>> {
  return new Map((await allSamples(call, projectId)).map((s) => [s.image!.sha256, s.label?.sha256 ?? null]));
}

export async function createProject(
  call: ApiCall,
  slug: string,
  task: string,
  labels: string[],
  okLabels: string[] = [],
): Promise<string> {
  const r = await call<{ id: string }>("POST", "/api/v1/projects", {
    body: { slug, name: slug, task, labels, okLabels },
  });
  if (r.status !== 201) throw new Error(`create project: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.id;
}
