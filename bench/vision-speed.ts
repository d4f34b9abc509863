/**
 * Vision speed on camera-sized frames: JPEG bytes → result for ResNet18 (fp32 and int8) and
 * U-Nets, and sustained throughput with decode and inference pipelined (the agent's resident
 * memory is its own section: agent-memory.ts).
 * `node --import tsx bench/vision-speed.ts` prints the rows; bench/run.ts calls
 * visionSpeedRows(). Numbers are reported, never asserted.
 */
import { availableParallelism, loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import type { ModelManifest } from "@kensa/contracts";
import { Inferencer, percentile } from "@kensa/vision";
import { buildResNet18, buildResNet18Int8, buildUNet, buildUNetInt8 } from "@kensa/vision/graph";
import sharp from "sharp";

export interface Row {
  name: string;
  unit: string;
  p50: number;
  p95: number;
  n: number;
  reference?: { value: number; source: string };
  notes: string;
}

const FRAME = { width: 1920, height: 1080 };
/** the reference job's frames: ≈ 400 KB JPEGs */
const TARGET_BYTES = 400_000;
const FRAMES = 8;
const REFERENCE_SOURCE = "published reference for this job: p50 per 400 KB frame, 2-vCPU x86";
const round = (x: number) => Math.round(x * 100) / 100;

interface Model {
  label: string;
  onnx: Uint8Array;
  manifest: ModelManifest;
  /** ms p50 this must stay within on 2 cores (none: shown for scale only) */
  target?: number;
  /** why this shape, when it needs saying */
  shapeNote?: string;
  reference?: number;
  frames: number;
}

/** Every row of this bench, in the order bench/run.ts prints them. */
export async function visionSpeedRows(): Promise<Row[]> {
  const load0 = loadavg()[0]!;
  const frames = await cameraFrames(FRAMES);
  const kb = Math.round(frames.reduce((s, f) => s + f.length, 0) / frames.length / 1000);
  const frameNote = `${FRAMES} distinct ${FRAME.width}×${FRAME.height} JPEGs of ≈${kb} KB`;

  const resnet = buildResNet18();
  // The reference does not publish its U-Net's widths. Its U-Net took 0.73× its ResNet18's time
  // (279 vs 384 ms), so a U-Net of about ResNet18's compute is the comparable shape: 16-32-64-128
  // at 256² is 2.3 GMAC (ResNet18: 1.8). The classic 32-64-128-256 (9.2 GMAC, 5× ResNet18) is
  // shown for scale.
  const unetNote =
    "reference-comparable shape: 2.3 GMAC vs ResNet18's 1.8 (the reference's U-Net ran in 0.73× its ResNet18 time)";
  const bigNote = "for scale only: 9.2 GMAC, 5× ResNet18's compute";
  const small = { channels: [16, 32, 64, 128] };
  const models: Model[] = [
    { label: "ResNet18 fp32 224²", ...resnet, target: 25, reference: 384, frames: 80 },
    { label: "ResNet18 int8 (QDQ) 224²", ...(await buildResNet18Int8()), target: 12, reference: 384, frames: 80 },
    {
      label: "U-Net 16-32-64-128 256² fp32",
      ...buildUNet(small),
      target: 40,
      reference: 279,
      frames: 60,
      shapeNote: unetNote,
    },
    {
      label: "U-Net 16-32-64-128 256² int8 (QDQ)",
      ...(await buildUNetInt8(small)),
      target: 40,
      reference: 279,
      frames: 60,
      shapeNote: unetNote,
    },
    { label: "U-Net 32-64-128-256 256² fp32", ...buildUNet(), reference: 279, frames: 30, shapeNote: bigNote },
    {
      label: "U-Net 32-64-128-256 256² int8 (QDQ)",
      ...(await buildUNetInt8()),
      reference: 279,
      frames: 30,
      shapeNote: bigNote,
    },
  ];

  const rows: Row[] = [await decodeRow(resnet.onnx, resnet.manifest, frames, frameNote)];
  for (const m of models) rows.push(...(await latencyRows(m, frames, frameNote)));
  // the machine may be shared: what else ran says how far to trust the figures
  const contention = `1-min load average ${load0.toFixed(2)} before the bench on ${availableParallelism()} cores`;
  for (const r of rows) r.notes = `${r.notes}; ${contention}`;
  return rows;
}

/** JPEG → 224² ImageNet tensor alone: what every classifier frame pays before inference. */
async function decodeRow(onnx: Uint8Array, manifest: ModelManifest, frames: Buffer[], frameNote: string): Promise<Row> {
  const inf = await Inferencer.create(onnx, manifest);
  for (const f of frames) await inf.prepare(f);
  const ms: number[] = [];
  for (let i = 0; i < 160; i++) ms.push((await inf.prepare(frames[i % frames.length]!)).preprocessMs);
  await inf.close();
  return {
    name: "decode + preprocess, 400 KB 1080p JPEG → 224² tensor (sharp, shrink-on-load)",
    unit: "ms",
    p50: round(percentile(ms, 50)),
    p95: round(percentile(ms, 95)),
    n: ms.length,
    notes: `${frameNote}; centre-crop resize, ImageNet normalisation, NCHW float32`,
  };
}

async function latencyRows(m: Model, frames: Buffer[], frameNote: string): Promise<Row[]> {
  const inf = await Inferencer.create(m.onnx, m.manifest);
  for (let i = 0; i < 3; i++) await inf.warmup();
  for (const f of frames) await inf.infer(f);

  const total: number[] = [];
  const pre: number[] = [];
  const ort: number[] = [];
  for (let i = 0; i < m.frames; i++) {
    const r = await inf.infer(frames[i % frames.length]!);
    total.push(r.latencyMs.total);
    pre.push(r.latencyMs.preprocess);
    ort.push(r.latencyMs.inference);
  }
  const p50 = percentile(total, 50);
  const ortP50 = percentile(ort, 50);
  const met = (ms: number) => (m.target === undefined ? "" : ms <= m.target ? "met" : "NOT met");
  const verdict =
    m.target === undefined
      ? ""
      : `target ≤ ${m.target} ms p50: end to end ${met(p50)}, inference alone ${met(ortP50)}; `;

  // pipelined: frame i+1 decodes (sharp, libuv pool) while frame i infers (ORT threads)
  const n = m.frames * 2;
  const done: number[] = [];
  const t0 = performance.now();
  let next = inf.prepare(frames[0]!);
  for (let i = 0; i < n; i++) {
    const prepared = await next;
    if (i + 1 < n) next = inf.prepare(frames[(i + 1) % frames.length]!);
    await inf.run(prepared);
    done.push(performance.now());
  }
  const elapsed = (done[done.length - 1]! - t0) / 1000;
  const window = 10;
  const windowFps: number[] = [];
  for (let i = window; i < done.length; i += window) windowFps.push((window * 1000) / (done[i]! - done[i - window]!));
  await inf.close();

  return [
    {
      name: `frame latency, 400 KB JPEG → result, ${m.label}`,
      unit: "ms",
      p50: round(p50),
      p95: round(percentile(total, 95)),
      n: total.length,
      ...(m.reference ? { reference: { value: m.reference, source: REFERENCE_SOURCE } } : {}),
      notes:
        verdict +
        (m.shapeNote ? `${m.shapeNote}; ` : "") +
        `decode+preprocess p50 ${round(percentile(pre, 50))} ms, ONNX Runtime p50 ${round(ortP50)} ms, ` +
        `postprocess the rest; ${frameNote}; ` +
        `one frame at a time, ${availableParallelism()} intra-op threads`,
    },
    {
      name: `sustained throughput, decode ∥ inference pipelined, ${m.label}`,
      unit: "fps",
      p50: round(percentile(windowFps, 50)),
      // for a rate the bad tail is the low end: the fps reached in 95% of windows
      p95: round(percentile(windowFps, 5)),
      n,
      notes:
        `${n} frames in ${round(elapsed)} s = ${round(n / elapsed)} fps overall; p50/p95 over ${window}-frame ` +
        `windows, "p95" = the rate 95% of windows reach; sequential would be ${round(1000 / p50)} fps`,
    },
  ];
}

/**
 * Photo-like 1080p JPEGs of ≈ 400 KB: lighting gradient, a few objects, texture and sensor
 * noise, the noise level searched so that quality-85 JPEGs land at the reference size (JPEG
 * size is mostly noise). Seeded: the same frames on every run.
 */
export async function cameraFrames(count: number): Promise<Buffer[]> {
  let lo = 0;
  let hi = 40;
  let noise = 12;
  for (let step = 0; step < 8; step++) {
    const size = (await cameraFrame(0, noise)).length;
    if (Math.abs(size - TARGET_BYTES) < TARGET_BYTES * 0.03) break;
    if (size > TARGET_BYTES) hi = noise;
    else lo = noise;
    noise = (lo + hi) / 2;
  }
  return Promise.all(Array.from({ length: count }, (_, i) => cameraFrame(i, noise)));
}

async function cameraFrame(seed: number, noise: number): Promise<Buffer> {
  const { width, height } = FRAME;
  const rgb = new Uint8ClampedArray(width * height * 3);
  let s = (seed + 1) * 2654435761;
  const rand = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
  const objects = Array.from({ length: 6 }, () => ({
    x: rand() * width,
    y: rand() * height,
    rx: 80 + rand() * 300,
    ry: 60 + rand() * 200,
    colour: [rand() * 255, rand() * 255, rand() * 255],
  }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const light = 0.55 + (0.35 * x) / width - (0.2 * y) / height;
      const texture = 12 * Math.sin(x / 9 + seed) * Math.cos(y / 13);
      let base = [120 * light + 40, 110 * light + 35, 95 * light + 30];
      for (const o of objects) {
        const dx = (x - o.x) / o.rx;
        const dy = (y - o.y) / o.ry;
        if (dx * dx + dy * dy < 1) base = o.colour.map((c) => c * (0.6 + 0.4 * light));
      }
      const n = (rand() + rand() + rand() - 1.5) * noise;
      const i = (y * width + x) * 3;
      rgb[i] = base[0]! + texture + n;
      rgb[i + 1] = base[1]! + texture + n;
      rgb[i + 2] = base[2]! + texture + n * 1.2;
    }
  }
  return sharp(new Uint8Array(rgb.buffer), { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

const main = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (main) {
  const rows = await visionSpeedRows();
  for (const r of rows) {
    const ref = r.reference ? `  (reference ${r.reference.value} ${r.unit}: ×${round(r.reference.value / r.p50)})` : "";
    console.log(`${r.name}\n  p50 ${r.p50} ${r.unit}, p95 ${r.p95} ${r.unit}, n ${r.n}${ref}\n  ${r.notes}`);
  }
  console.log(JSON.stringify(rows, null, 2));
}
