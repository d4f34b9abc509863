import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { KensaError, type NotificationRouting } from "@kensa/contracts";
import type { HubConfig } from "../config.js";
import type { MetadataStore } from "../db/open-database.js";
import type { Logger } from "../logger.js";
import { WEBHOOK_SECRET_PURPOSE } from "../projects/webhook-secrets.js";
import { tightenMode } from "../secrets/file-modes.js";
import { isSealed, SecretBox, sealedKeyId } from "../secrets/secret-box.js";
import { loadSecretsKey } from "../secrets/secrets-key.js";

/** The purpose a sealed SMTP password is sealed for. */
export const SMTP_PASSWORD_PURPOSE = "smtp-password";

export interface SecretsAtRest {
  box: SecretBox;
  /** `smtp` with the password in plaintext (from `pass`, `passFile` or env KENSA_SMTP_PASS), for the e-mail notifier */
  smtp: HubConfig["smtp"];
}

/**
 * Run once at start, after migrations and before anything reads a secret: tightens the data
 * dir (0700) and the token files in it (0600), loads the secrets key (refusing to start when
 * stored secrets name a key it lacks or cannot open), seals webhook secrets still stored in
 * plaintext or sealed with an older key, and resolves the SMTP password. On a refusal it closes
 * the store, as the hub never starts.
 */
export async function openSecretsAtRest(deps: {
  config: HubConfig;
  env: Record<string, string | undefined>;
  store: MetadataStore;
  log: Logger;
}): Promise<SecretsAtRest> {
  try {
    return await open(deps.config, deps.env, deps.store, deps.log);
  } catch (err) {
    await deps.store.close().catch(() => {});
    throw err;
  }
}

async function open(
  config: HubConfig,
  env: Record<string, string | undefined>,
  { db }: MetadataStore,
  log: Logger,
): Promise<SecretsAtRest> {
  await tightenMode(config.dataDir, 0o700, log);
  for (const name of ["admin-token", "admin-password"]) await tightenMode(join(config.dataDir, name), 0o600, log);

  const projects = (await db.selectFrom("projects").select(["id", "notifications"]).execute()).map((row) => ({
    ...row,
    routing: JSON.parse(row.notifications) as NotificationRouting,
  }));
  const sealedWith = new Set<string>();
  for (const p of projects)
    for (const w of p.routing.webhooks) if (isSealed(w.secret)) sealedWith.add(sealedKeyId(w.secret));
  const smtpPass = config.smtp?.pass;
  if (smtpPass !== undefined && isSealed(smtpPass)) sealedWith.add(sealedKeyId(smtpPass));

  const source = await loadSecretsKey({
    keyFile: config.secrets.keyFile,
    dataDir: config.dataDir,
    env,
    sealedWith,
    log,
  });
  const box = new SecretBox(source.keys);
  // every sealed value must open now: a wrong key found at the first incident would be too late
  for (const p of projects) for (const w of p.routing.webhooks) box.reveal(w.secret, WEBHOOK_SECRET_PURPOSE);

  let sealed = 0;
  for (const p of projects) {
    if (p.routing.webhooks.every((w) => box.isCurrent(w.secret))) continue;
    const routing = {
      ...p.routing,
      webhooks: p.routing.webhooks.map((w) => ({
        ...w,
        secret: box.isCurrent(w.secret)
          ? w.secret
          : box.seal(box.reveal(w.secret, WEBHOOK_SECRET_PURPOSE), WEBHOOK_SECRET_PURPOSE),
      })),
    };
    // only if unchanged since read: another replica may be sealing or editing the same row
    const res = await db
      .updateTable("projects")
      .set({ notifications: JSON.stringify(routing) })
      .where("id", "=", p.id)
      .where("notifications", "=", p.notifications)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) > 0) sealed++;
  }
  if (sealed > 0) {
    log.info({ projects: sealed, keyId: box.currentKeyId }, "webhook secrets sealed with the current secrets key");
  }
  return { box, smtp: await resolveSmtp(config, env, box, log) };
}

async function resolveSmtp(
  config: HubConfig,
  env: Record<string, string | undefined>,
  box: SecretBox,
  log: Logger,
): Promise<HubConfig["smtp"]> {
  const smtp = config.smtp;
  if (!smtp) return smtp;
  let pass: string | undefined;
  if (smtp.pass !== undefined) {
    if (!isSealed(smtp.pass)) {
      log.warn(
        { key: "smtp.pass" },
        "the SMTP password is in plaintext in the hub config: seal it (kensa:enc:v1), or use smtp.passFile or env KENSA_SMTP_PASS",
      );
    }
    pass = box.reveal(smtp.pass, SMTP_PASSWORD_PURPOSE);
  } else if (smtp.passFile !== undefined) {
    try {
      pass = (await readFile(smtp.passFile, "utf8")).replace(/\r?\n$/, "");
    } catch (err) {
      throw new KensaError(
        "KENSA_ERR_CONFIG_INVALID",
        `hub config is invalid: /smtp/passFile: cannot read ${smtp.passFile}: ${(err as Error).message}`,
        { issues: [{ path: "/smtp/passFile", message: (err as Error).message }] },
      );
    }
    await tightenMode(smtp.passFile, 0o600, log);
  } else {
    pass = env.KENSA_SMTP_PASS;
  }
  return { ...smtp, ...(pass !== undefined ? { pass } : {}) };
}
