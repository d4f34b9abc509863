import type { Command } from "commander";
import { Option } from "commander";

/** Reads all of stdin as text, without its final newline. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/**
 * `kensa hub seal-secret --for smtp-password < file`: prints the secret sealed with the hub's
 * secrets key (`kensa:enc:v1:…`), to paste into the hub config instead of the plaintext.
 */
export function registerSealCommand(program: Command): void {
  const hub = program.commands.find((c) => c.name() === "hub");
  if (!hub) throw new Error("register the hub command before its seal-secret");
  const seal = hub
    .command("seal-secret")
    .description(
      "seal a secret read from stdin with the hub's secrets key, for the hub config (smtp.pass, blobs.s3.secretAccessKey)",
    )
    .addOption(
      new Option("--for <purpose>", "what the value is")
        .choices(["smtp-password", "s3-secret-key"])
        .default("smtp-password"),
    )
    .addHelpText(
      "after",
      '\nThe hub\'s -c/--config and --data-dir (given before or after seal-secret) say where its key is.\nExample: printf %s "$PASS" | kensa hub seal-secret --data-dir /var/lib/kensa',
    );
  seal.action(async () => {
    const o = seal.optsWithGlobals<{ config?: string; dataDir?: string; for: "smtp-password" | "s3-secret-key" }>();
    const { loadHubConfig, sealConfigSecret } = await import("@kensa/hub");
    const config = await loadHubConfig(o.config, process.env, o.dataDir ? { dataDir: o.dataDir } : {});
    const secret = await readStdin();
    if (!secret) throw new Error("nothing on stdin to seal");
    console.log(await sealConfigSecret(config, process.env, o.for, secret));
  });
}
