import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

/**
 * scrypt cost: about 50 ms per hash on a small core — slow enough to make guessing a stolen
 * hash expensive, fast enough for a sign-in. Stored with each hash, so raising it later keeps
 * old hashes verifiable.
 */
const PARAMS = { N: 16384, r: 8, p: 1 } as const;
const KEY_LEN = 32;
const SALT_LEN = 16;

/** `scrypt$N$r$p$salt$key` with a fresh per-user salt (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await derive(password, salt, KEY_LEN, PARAMS);
  return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

/** Whether `password` matches `stored`; compares in constant time, false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0)) return false;
  const salt = Buffer.from(parts[4]!, "base64url");
  const want = Buffer.from(parts[5]!, "base64url");
  if (want.length === 0) return false;
  const got = await derive(password, salt, want.length, { N, r, p });
  return timingSafeEqual(got, want);
}

let dummy: Promise<string> | null = null;

/**
 * A hash no password matches in practice; verifying against it for unknown usernames makes a
 * failed sign-in take as long whether or not the user exists.
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(32).toString("base64url"));
  return dummy;
}

function derive(password: string, salt: Buffer, len: number, o: { N: number; r: number; p: number }): Promise<Buffer> {
  // maxmem must cover 128·N·r bytes; twice that leaves headroom for the stored parameters
  const opts: ScryptOptions = { N: o.N, r: o.r, p: o.p, maxmem: Math.max(64 * 1024 * 1024, 256 * o.N * o.r) };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, len, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
