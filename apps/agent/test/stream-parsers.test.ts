import { KensaError } from "@kensa/contracts";
import { isCompleteImage } from "@kensa/vision";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { FrameSampler } from "../src/sources/frame-sampler.js";
import { JpegStreamParser } from "../src/sources/jpeg-stream-parser.js";
import { MultipartStreamParser, multipartBoundary } from "../src/sources/multipart-stream-parser.js";
import { Supervisor } from "../src/supervisor.js";
import { renderJpegs } from "./helpers/frames.js";

/** A JPEG whose APP1 segment embeds a complete thumbnail JPEG (SOI…EOI), like camera EXIF. */
async function jpegWithThumbnail(): Promise<Buffer> {
  const [main, thumb] = await renderJpegs(2, 64, 48);
  const payload = Buffer.concat([Buffer.from("Exif\0\0"), thumb as Buffer]);
  const app1 = Buffer.alloc(4);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([(main as Buffer).subarray(0, 2), app1, payload, (main as Buffer).subarray(2)]);
}

describe("JpegStreamParser", () => {
  it("splits concatenated JPEGs at every possible chunk boundary, EXIF thumbnails included", async () => {
    const frames = [...(await renderJpegs(3)), await jpegWithThumbnail()];
    const stream = Buffer.concat(frames);
    for (const size of [1, 2, 3, 7, 64, 1000, stream.length]) {
      const parser = new JpegStreamParser();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) out.push(...parser.push(stream.subarray(i, i + size)));
      expect(out.length, `chunk size ${size}`).toBe(frames.length);
      expect(
        out.map((f, i) => f.equals(frames[i] as Buffer)),
        `chunk size ${size}`,
      ).toEqual(frames.map(() => true));
      expect(parser.dropped).toBe(0);
    }
    // the thumbnail did not cut the frame short: it decodes at full size
    const meta = await sharp(frames[3] as Buffer).metadata();
    expect([meta.width, meta.height]).toEqual([64, 48]);
  });

  it("resyncs after garbage and a truncated frame, and drops frames over the size limit", async () => {
    const [a, b, c] = await renderJpegs(3);
    const parser = new JpegStreamParser();
    const out = parser.push(
      Buffer.concat([
        Buffer.from("garbage"),
        a as Buffer,
        (b as Buffer).subarray(0, (b as Buffer).length - 20),
        c as Buffer,
        Buffer.from([0xff]),
      ]),
    );
    expect(out.map((f) => f.equals(a as Buffer) || f.equals(c as Buffer))).toEqual([true, true]);
    expect(parser.dropped).toBe(1);

    const small = new JpegStreamParser({ maxFrameBytes: 100 });
    expect(small.push(Buffer.concat([a as Buffer, b as Buffer]))).toEqual([]);
    expect(small.dropped).toBe(2);
  });
});

describe("MultipartStreamParser", () => {
  const part = (body: Buffer, boundary: string, length: boolean) =>
    Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Type: image/jpeg\r\n${length ? `Content-Length: ${body.length}\r\n` : ""}\r\n`,
      ),
      body,
      Buffer.from("\r\n"),
    ]);

  it("reads parts framed by Content-Length or by the next delimiter, split anywhere", async () => {
    const frames = await renderJpegs(4);
    for (const length of [true, false]) {
      const stream = Buffer.concat([Buffer.from("preamble\r\n"), ...frames.map((f) => part(f, "xyz", length))]);
      for (const size of [1, 5, 512, stream.length]) {
        const parser = new MultipartStreamParser("xyz");
        const bodies: Buffer[] = [];
        for (let i = 0; i < stream.length; i += size) {
          bodies.push(...parser.push(stream.subarray(i, i + size)).map((p) => p.body));
        }
        // without a length the last part ends only when the next delimiter arrives
        const expected = length ? frames : frames.slice(0, -1);
        expect(bodies.length, `length ${length}, chunk ${size}`).toBe(expected.length);
        expect(bodies.map((b, i) => b.equals(expected[i] as Buffer))).toEqual(expected.map(() => true));
      }
    }
  });

  it("accepts a boundary parameter that already carries the leading dashes, quoted or not", () => {
    expect(multipartBoundary('multipart/x-mixed-replace; boundary="--myboundary"')).toBe("--myboundary");
    expect(multipartBoundary("multipart/x-mixed-replace;boundary=frame")).toBe("frame");
    expect(multipartBoundary("image/jpeg")).toBeUndefined();
    const parser = new MultipartStreamParser("--myboundary");
    const body = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
    const parts = parser.push(
      Buffer.concat([
        Buffer.from("--myboundary\r\nContent-Length: 4\r\n\r\n"),
        body,
        Buffer.from("\r\n--myboundary\r\n"),
      ]),
    );
    expect(parts.map((p) => p.body.equals(body))).toEqual([true]);
  });
});

describe("image completeness", () => {
  it("tells a finished JPEG/PNG from a half-written one without decoding", async () => {
    const [jpeg] = await renderJpegs(1);
    const png = await sharp(jpeg as Buffer)
      .png()
      .toBuffer();
    expect(isCompleteImage(jpeg as Buffer)).toBe(true);
    expect(isCompleteImage(png)).toBe(true);
    expect(isCompleteImage((jpeg as Buffer).subarray(0, 200))).toBe(false);
    expect(isCompleteImage(png.subarray(0, png.length - 3))).toBe(false);
    expect(isCompleteImage(Buffer.from("not an image at all"))).toBe(false);
  });
});

describe("FrameSampler", () => {
  it("keeps every Nth frame, then caps the rate on a schedule without beating", () => {
    const nth = new FrameSampler({ everyNth: 3 });
    expect(Array.from({ length: 7 }, (_, i) => nth.accept(i))).toEqual([true, false, false, true, false, false, true]);

    // 30 fps with ±3 ms jitter capped at 10 fps: exactly every third frame
    const cap = new FrameSampler({ maxFps: 10 });
    const kept = Array.from({ length: 300 }, (_, i) => cap.accept(i * 33.333 + (i % 3) * 3 - 3)).filter(Boolean);
    expect(kept.length).toBe(100);

    // after a 2 s gap, no burst of catch-up frames
    const gap = new FrameSampler({ maxFps: 5 });
    gap.accept(0);
    expect([gap.accept(2000), gap.accept(2050), gap.accept(2100), gap.accept(2210)]).toEqual([
      true,
      false,
      false,
      true,
    ]);
  });
});

describe("Supervisor", () => {
  it("restarts with exponential backoff, marks failed over budget, retries slowly, recovers", async () => {
    let runs = 0;
    const healthyFrom = 6;
    const delays: number[] = [];
    const states: string[] = [];
    const sup = new Supervisor(
      async ({ healthy, signal }) => {
        runs++;
        if (runs < healthyFrom) throw new KensaError("KENSA_ERR_SOURCE_FAILED", `run ${runs} failed`);
        healthy();
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      },
      { maxRestarts: 3, windowMs: 60_000, backoffMs: 20, backoffMaxMs: 70, failedRetryMs: 150 },
      { random: () => 0.5 },
    );
    let recovered = false;
    sup.on("restart", (r) => delays.push(r.delayMs));
    sup.on("state", (s) => states.push(s));
    sup.on("recovered", () => {
      recovered = true;
    });
    sup.start();
    await new Promise((r) => setTimeout(r, 800));
    await sup.stop();
    // 20, 40, 70 (ceiling), then over budget: the slow retry
    expect(delays).toEqual([20, 40, 70, 150, 150]);
    expect(states.filter((s) => s === "failed").length).toBeGreaterThan(0);
    expect(states.at(-2)).toBe("running");
    expect(states.at(-1)).toBe("stopped");
    expect(recovered).toBe(true);
    expect(sup.restarts).toBe(5);
  });

  it("a worker that resolves has ended and is not restarted", async () => {
    let runs = 0;
    const sup = new Supervisor(
      async () => {
        runs++;
      },
      { maxRestarts: 3, windowMs: 1000, backoffMs: 10, backoffMaxMs: 10, failedRetryMs: 10 },
    );
    sup.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(sup.state).toBe("ended");
    expect(runs).toBe(1);
    await sup.stop();
    expect(sup.state).toBe("ended");
  });
});
