import { imageKind, imageSize, isCompleteImage, probeImage, sniffImage } from "@kensa/vision";
import fc from "fast-check";
import sharp from "sharp";
import { coded, type FuzzTarget, fuzzProperty, timed, timedAsync } from "../harness.js";
import { bytesAfterMagic, mutatedBytes } from "../mutations.js";

/** Real frames to start from: JPEG and PNG, grey and colour, of a few odd sizes. */
const seeds = await Promise.all(
  [
    [17, 9, 3, "jpeg"],
    [64, 48, 3, "png"],
    [5, 31, 1, "png"],
    [40, 40, 1, "jpeg"],
  ].map(async ([width, height, channels, format]) => {
    const w = width as number;
    const h = height as number;
    const c = channels as 1 | 3;
    const raw = Buffer.alloc(w * h * c);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 251;
    const img = sharp(raw, { raw: { width: w, height: h, channels: c } });
    const data = format === "png" ? await img.png().toBuffer() : await img.jpeg({ quality: 80 }).toBuffer();
    return { data: new Uint8Array(data), width: w, height: h, kind: format as "jpeg" | "png" };
  }),
);
const seedBytes = fc.constantFrom(...seeds.map((s) => s.data));
const MAGICS = [Uint8Array.of(0xff, 0xd8, 0xff), Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)];
const anyBytes = fc.oneof(bytesAfterMagic(MAGICS), mutatedBytes(seedBytes, 3));

/** The header sniffers both hub and agent trust (packages/vision image-bytes, image-size) and the decoding probe. */
export const imageSniffersTarget: FuzzTarget = {
  name: "image-sniffers",
  covers: "image sniffers and header size reader (packages/vision image-bytes.ts, image-size.ts) and probeImage",
  properties: [
    fuzzProperty("sniffers: any bytes, consistent answers, sizes positive or null", { budgetMs: 500, weight: 4 }, (b) =>
      fc.property(
        anyBytes,
        timed(b, (bytes) => {
          const kind = imageKind(bytes);
          const mime = sniffImage(bytes);
          if (mime && mime !== `image/${kind}`) throw new Error(`sniffImage says ${mime}, imageKind ${kind}`);
          if (isCompleteImage(bytes) && !kind) throw new Error("complete image of no kind");
          const size = imageSize(bytes);
          if (
            size &&
            !(Number.isInteger(size.width) && size.width > 0 && Number.isInteger(size.height) && size.height > 0)
          ) {
            throw new Error(`imageSize gave ${JSON.stringify(size)}`);
          }
        }),
      ),
    ),
    fuzzProperty("sniffers: a real frame is known, complete and of its real size", { budgetMs: 500 }, (b) =>
      fc.property(
        fc.constantFrom(...seeds),
        fc.integer({ min: 0, max: 15 }),
        timed(b, (s, pad) => {
          // some encoders pad after EOI; a sniffer must not call that a different image
          const bytes = s.kind === "jpeg" ? Uint8Array.from([...s.data, ...new Uint8Array(pad)]) : s.data;
          if (imageKind(bytes) !== s.kind || !isCompleteImage(bytes) || sniffImage(bytes) !== `image/${s.kind}`) {
            throw new Error(`a real ${s.kind} was not recognised`);
          }
          const size = imageSize(bytes);
          if (size?.width !== s.width || size.height !== s.height) throw new Error(`imageSize ${JSON.stringify(size)}`);
        }),
      ),
    ),
    fuzzProperty("probeImage: a decodable frame or KENSA_ERR_MEDIA_INVALID", { budgetMs: 2_000, weight: 1 }, (b) =>
      fc.asyncProperty(
        anyBytes,
        timedAsync(b, async (bytes) => {
          const info = await coded(["KENSA_ERR_MEDIA_INVALID"], () => probeImage(bytes));
          if ("width" in info && !(info.width > 0 && info.height > 0))
            throw new Error(`probe gave ${JSON.stringify(info)}`);
        }),
      ),
    ),
  ],
};
