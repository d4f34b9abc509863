import { type SigningStatus, signingRoutes } from "@kensa/contracts";
import type { Command } from "commander";
import { hubClientFrom } from "../hub-client.js";
import { printRecord } from "../table.js";

interface Flags {
  hub?: string;
  token?: string;
  dataDir?: string;
  json?: boolean;
}
type HubOpts = (cmd: Command) => Command;

function show(s: SigningStatus, o: Flags): void {
  const { root } = s;
  printRecord(
    s,
    [
      ["signing key", `${s.activeKeyId} (${s.signer === "key-file" ? "key file" : "signer command"})`],
      ["trust root", `version ${root.version}, threshold ${root.threshold}, issued ${root.issuedAt}`],
      ["trusted keys", root.keys.map((k) => k.id).join(", ")],
      ["retired keys", root.retired.length ? root.retired.join(", ") : "none"],
      ["bundle sequence", s.sequence],
    ],
    o,
  );
}

/** `kensa signing status | rotate | retire <keyId>`: the hub's bundle-signing keys (docs/bundles.md). */
export function registerSigningCommands(program: Command, hubOpts: HubOpts): void {
  const signing = program.command("signing").description("the keys the hub signs bundles with (docs/bundles.md)");
  hubOpts(signing.command("status").description("the signing key, the trust root devices follow, the bundle sequence"))
    .option("--json", "print JSON")
    .action(async (o: Flags) => show(await hubClientFrom(o).call(signingRoutes.status), o));
  hubOpts(
    signing
      .command("rotate")
      .description("sign with a new key from now on; devices learn it through a trust root both keys sign"),
  )
    .option("--json", "print JSON")
    .action(async (o: Flags) => {
      const s = await hubClientFrom(o).call(signingRoutes.rotate);
      show(s, o);
      if (!o.json) {
        console.log(
          "\nOnce every device reports the new trust root (and other replicas have the new key), retire the old key: kensa signing retire <keyId>",
        );
      }
    });
  hubOpts(
    signing
      .command("retire")
      .description("take a key out: devices following the new root refuse what it signs")
      .argument("<keyId>", "the key's id (16 hex digits, from kensa signing status)"),
  )
    .option("--json", "print JSON")
    .action(async (keyId: string, o: Flags) =>
      show(await hubClientFrom(o).call(signingRoutes.retire, { params: { keyId } }), o),
    );
}
