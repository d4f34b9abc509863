import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** The anchor log in the data dir: one JSON line per anchor, appended and never rewritten. */
export const ANCHOR_LOG_FILE = "audit-anchors.jsonl";
/** The Ed25519 private key that signs anchors (PKCS#8 PEM, mode 0600). */
export const ANCHOR_KEY_FILE = "audit-anchor.key";
/** Its public key (SPKI PEM), to hand to an auditor who verifies elsewhere. */
export const ANCHOR_PUBLIC_KEY_FILE = "audit-anchor.pub";

/** The chain's head at a moment: entry `seq` had hash `hash` at `at`. */
export interface AuditAnchor {
  seq: number;
  hash: string;
  at: string;
  /** base64 Ed25519 signature of `anchorMessage(...)` */
  sig?: string;
}

/** A line of the anchor log as read back: the anchor, or why the line is not one. */
export type AnchorLine = { line: number; anchor: AuditAnchor } | { line: number; invalid: string };

/** What is signed: a version tag and the three fields, one per line (no field holds a newline). */
export function anchorMessage(a: Pick<AuditAnchor, "seq" | "hash" | "at">): Buffer {
  return Buffer.from(`kensa-audit-anchor-v1\n${a.seq}\n${a.hash}\n${a.at}`, "utf8");
}

/**
 * Appends the audit chain's head to the anchor log in the data dir, signed with a key kept
 * beside it. A later deletion of the table's tail (which the chain alone cannot show: what is
 * left is still a valid chain) no longer matches the last anchor. The key is made on the first
 * anchor; several replicas sharing the data dir share it (the first to create it wins).
 */
export class AuditAnchors {
  readonly dir: string;
  #key: KeyObject | null = null;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Appends one anchor line and syncs it to disk; returns the anchor written. */
  async write(head: { seq: number; hash: string }, at = new Date().toISOString()): Promise<AuditAnchor> {
    const key = await this.#signingKey();
    const anchor: AuditAnchor = {
      seq: head.seq,
      hash: head.hash,
      at,
      sig: sign(null, anchorMessage({ seq: head.seq, hash: head.hash, at }), key).toString("base64"),
    };
    // one write of one short line with O_APPEND: lines from replicas never interleave
    const fh = await open(join(this.dir, ANCHOR_LOG_FILE), "a", 0o600);
    try {
      await fh.write(`${JSON.stringify(anchor)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return anchor;
  }

  async #signingKey(): Promise<KeyObject> {
    if (this.#key) return this.#key;
    const path = join(this.dir, ANCHOR_KEY_FILE);
    try {
      this.#key = createPrivateKey(await readFile(path, "utf8"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      try {
        await writeFile(path, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
        await writeFile(join(this.dir, ANCHOR_PUBLIC_KEY_FILE), publicKey.export({ type: "spki", format: "pem" }), {
          mode: 0o644,
        });
        this.#key = privateKey;
      } catch (e) {
        // another replica made it first: use theirs
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        this.#key = createPrivateKey(await readFile(path, "utf8"));
      }
    }
    return this.#key;
  }
}

/** The anchors of a data dir (empty when none was written) and the public key that checks them. */
export async function readAnchors(
  dir: string,
  publicKeyFile?: string,
): Promise<{ lines: AnchorLine[]; publicKey: KeyObject | null }> {
  let text = "";
  try {
    text = await readFile(join(dir, ANCHOR_LOG_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const lines: AnchorLine[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return;
    lines.push(parseAnchorLine(raw, i + 1));
  });
  return { lines, publicKey: await readPublicKey(dir, publicKeyFile) };
}

/** true when the anchor carries a valid signature by `key`. */
export function anchorSigned(anchor: AuditAnchor, key: KeyObject): boolean {
  if (!anchor.sig) return false;
  return verify(null, anchorMessage(anchor), key, Buffer.from(anchor.sig, "base64"));
}

function parseAnchorLine(raw: string, line: number): AnchorLine {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return { line, invalid: "not JSON" };
  }
  const a = v as Partial<AuditAnchor>;
  if (
    typeof a !== "object" ||
    a === null ||
    !Number.isSafeInteger(a.seq) ||
    (a.seq as number) < 0 ||
    typeof a.hash !== "string" ||
    !/^[0-9a-f]{64}$/.test(a.hash) ||
    typeof a.at !== "string" ||
    (a.sig !== undefined && typeof a.sig !== "string")
  ) {
    return { line, invalid: "not an anchor ({ seq, hash, at, sig })" };
  }
  return { line, anchor: { seq: a.seq as number, hash: a.hash, at: a.at, ...(a.sig ? { sig: a.sig } : {}) } };
}

/** The given file, else the data dir's public key, else the one derived from its private key. */
async function readPublicKey(dir: string, file?: string): Promise<KeyObject | null> {
  if (file) return createPublicKey(await readFile(file, "utf8"));
  for (const [name, derive] of [
    [ANCHOR_PUBLIC_KEY_FILE, false],
    [ANCHOR_KEY_FILE, true],
  ] as const) {
    try {
      const pem = await readFile(join(dir, name), "utf8");
      return derive ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return null;
}
