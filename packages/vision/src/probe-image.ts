import { KensaError } from "@kensa/contracts";
import sharp from "sharp";

export interface ImageInfo {
  format: "jpeg" | "png";
  width: number;
  height: number;
}

export interface ProbeOptions {
  /** pixels (width × height) above which sharp refuses to decode; sharp's default (0x3FFF²) when omitted */
  limitInputPixels?: number;
}

/**
 * Fully decodes a JPEG or PNG to prove it is a usable frame (headers alone accept a truncated
 * or corrupt body). Throws KENSA_ERR_MEDIA_INVALID otherwise.
 */
export async function probeImage(bytes: Uint8Array, opts: ProbeOptions = {}): Promise<ImageInfo> {
  try {
    const limitInputPixels = opts.limitInputPixels ?? true;
    const { info } = await sharp(bytes, { failOn: "truncated", limitInputPixels })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const meta = await sharp(bytes).metadata();
    if (meta.format !== "jpeg" && meta.format !== "png") {
      throw new KensaError("KENSA_ERR_MEDIA_INVALID", `images must be JPEG or PNG, not ${meta.format}`);
    }
    return { format: meta.format, width: info.width, height: info.height };
  } catch (err) {
    if (err instanceof KensaError) throw err;
    throw new KensaError("KENSA_ERR_MEDIA_INVALID", `the image cannot be decoded: ${(err as Error).message}`);
  }
}
