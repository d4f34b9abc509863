import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { KensaClient } from "@kensa/client";
import { type CreateUser, peopleRoutes, type Role, type User } from "@kensa/contracts";
import { needService, repoRoot, waitFor } from "@kensa/testkit";
import { type Browser, type BrowserContextOptions, chromium, type Page } from "playwright-core";

/**
 * Shared by the console's browser tests (test/web/*.test.ts): build the console once, start
 * Debian's Chromium, sign in, take screenshots. A test file starts its own hub and agents.
 */

export const CHROMIUM_PATH = process.env.KENSA_CHROMIUM ?? "/usr/bin/chromium";

/** True when the browser tests must skip (no Chromium); throws instead under KENSA_REQUIRE_ALL=1. */
export const skipBrowserTests = needService(`Chromium at ${CHROMIUM_PATH}`, existsSync(CHROMIUM_PATH));

const WEB_ROOT = join(repoRoot, "apps/web");
const DIST = join(WEB_ROOT, "dist");
const STAMP = join(repoRoot, "test-results", ".web-build-stamp");
const LOCK = join(repoRoot, "test-results", ".web-build-lock");
/** ms after which a build lock is considered left behind by a killed run */
const STALE_LOCK_MS = 120_000;

/**
 * Builds apps/web into apps/web/dist with Vite's JS API, unless the sources are unchanged since
 * the last build. Test files run in parallel forks, so a lock directory (mkdir is atomic) keeps
 * two of them from emptying dist/ under each other.
 */
export async function buildConsole(): Promise<string> {
  await mkdir(join(repoRoot, "test-results"), { recursive: true });
  await waitFor("the console build lock", () => tryLock(), { timeoutMs: 180_000, intervalMs: 250 });
  try {
    const stamp = await sourceStamp();
    const previous = await readFile(STAMP, "utf8").catch(() => "");
    if (previous === stamp && existsSync(join(DIST, "index.html"))) return DIST;
    const { build } = await import("vite");
    await build({ configFile: join(WEB_ROOT, "vite.config.ts"), root: WEB_ROOT, logLevel: "warn", mode: "production" });
    await writeFile(STAMP, stamp);
    return DIST;
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

async function tryLock(): Promise<boolean> {
  try {
    await mkdir(LOCK);
    return true;
  } catch {
    const s = await stat(LOCK).catch(() => null);
    if (s && Date.now() - s.mtimeMs > STALE_LOCK_MS) await rm(LOCK, { recursive: true, force: true });
    return false;
  }
}

/** A hash of every file the console is built from (its sources and the contracts). */
async function sourceStamp(): Promise<string> {
  const h = createHash("sha256");
  const roots = [join(WEB_ROOT, "src"), join(repoRoot, "packages/contracts/src")];
  const files = [join(WEB_ROOT, "index.html"), join(WEB_ROOT, "vite.config.ts")];
  for (const root of roots) {
    for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) files.push(join(e.parentPath, e.name));
    }
  }
  for (const f of files.sort())
    h.update(relative(repoRoot, f))
      .update("\0")
      .update(await readFile(f));
  return h.digest("hex");
}

/** Debian's Chromium, headless, with a fresh profile (Playwright makes a temp user-data-dir per launch). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};

export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };

/** Creates a console user with the admin token (the hub's bootstrap credential). */
export async function createUser(
  hubUrl: string,
  adminToken: string,
  username: string,
  role: Role,
  password = `${username}-password-1`,
): Promise<{ user: User; username: string; password: string }> {
  const body: CreateUser = { username, displayName: username.replace(/^./, (c) => c.toUpperCase()), role, password };
  const admin = new KensaClient({ baseUrl: hubUrl, auth: { kind: "bearer", token: adminToken } });
  return { user: await admin.call(peopleRoutes.createUser, { body }), username, password };
}

/** Signs in through the login form at `url` and waits for the app shell. */
export async function signIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("main#main").waitFor();
}

const SCREENSHOT_DIR = join(repoRoot, "test-results", "screenshots");
const DOCS_DIR = join(repoRoot, "docs", "images");
/** bytes; README images stay small */
const MAX_DOC_IMAGE = 150 * 1024;

/**
 * Saves a PNG to test-results/screenshots/<name>.png, quantised to a palette (UI screenshots
 * have few colours, this cuts them 3–5×). With `docs: true` and KENSA_UPDATE_SCREENSHOTS=1 it
 * also refreshes docs/images/<name>.png for the README, refusing files over 150 KB.
 */
export async function screenshot(
  page: Page,
  name: string,
  opts: { fullPage?: boolean; docs?: boolean } = {},
): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const raw = await page.screenshot({ fullPage: opts.fullPage ?? false, animations: "disabled", caret: "hide" });
  const { default: sharp } = await import("sharp");
  const png = await sharp(raw)
    .png({ palette: true, colours: 128, quality: 85, dither: 0, effort: 8, compressionLevel: 9 })
    .toBuffer();
  const file = join(SCREENSHOT_DIR, `${name}.png`);
  await writeFile(file, png);
  if (opts.docs && process.env.KENSA_UPDATE_SCREENSHOTS === "1") {
    if (png.byteLength > MAX_DOC_IMAGE) throw new Error(`${name}.png is ${png.byteLength} bytes, over 150 KB`);
    await mkdir(DOCS_DIR, { recursive: true });
    await copyFile(file, join(DOCS_DIR, `${name}.png`));
  }
  return file;
}
