import { createInterface } from "node:readline/promises";
import { type Device, fleetRoutes, KensaError, type UpdatedDevice } from "@kensa/contracts";
import type { Command } from "commander";
import { hubClientFrom } from "../hub-client.js";
import { resolveDevice } from "../resolve.js";

interface HubFlags {
  hub?: string;
  token?: string;
  dataDir?: string;
}
type HubOpts = (cmd: Command) => Command;
type Confirmable = HubFlags & { yes?: boolean; json?: boolean };

/**
 * `kensa device edit | tag | retire | delete | rotate-secret | revoke <device>`: a device by id or
 * name (one in service first, else a retired one). What cannot be undone asks for confirmation
 * on a terminal, or `--yes`.
 */
export function registerDeviceLifecycleCommands(device: Command, hubOpts: HubOpts): void {
  hubOpts(
    device
      .command("edit")
      .description("change a device's name or description")
      .argument("<device>", "id or name")
      .option("--name <name>", "the new name")
      .option("--description <text>", "the new description (empty: none)")
      .option("--json", "print JSON"),
  ).action(async (ref: string, o: HubFlags & { name?: string; description?: string; json?: boolean }) => {
    if (o.name === undefined && o.description === undefined) {
      throw new KensaError("KENSA_ERR_FLAG_INVALID", "kensa device edit: give --name, --description or both");
    }
    const client = hubClientFrom(o);
    const d = await resolveDevice(client, ref);
    const body = {
      ...(o.name !== undefined ? { name: o.name } : {}),
      ...(o.description !== undefined ? { description: o.description || null } : {}),
    };
    const r = await client.call(fleetRoutes.update, { params: { id: d.id }, body });
    if (o.json) return void console.log(JSON.stringify(r, null, 2));
    console.log(
      `device ${r.device.id}: name "${r.device.name}"${r.device.description ? `, "${r.device.description}"` : ""}`,
    );
  });

  hubOpts(
    device
      .command("tag")
      .description(
        "change a device's tags; it takes the tag deployments its new tags select (a newer deployment to the device itself stays)",
      )
      .argument("<device>", "id or name")
      .option("--add <tag...>", "tags to add", [] as string[])
      .option("--remove <tag...>", "tags to remove", [] as string[])
      .option("--set [tag...]", "replace all tags by these (--set alone: no tags)")
      .option("--json", "print JSON"),
  ).action(
    async (ref: string, o: HubFlags & { add: string[]; remove: string[]; set?: string[] | true; json?: boolean }) => {
      const set = o.set === true ? [] : o.set;
      if (set && (o.add.length || o.remove.length)) {
        throw new KensaError("KENSA_ERR_FLAG_INVALID", "--set replaces every tag: give it alone, or --add/--remove");
      }
      if (!set && !o.add.length && !o.remove.length) {
        throw new KensaError("KENSA_ERR_FLAG_INVALID", "kensa device tag: give --add, --remove or --set");
      }
      const client = hubClientFrom(o);
      const d = await resolveDevice(client, ref);
      const body = set ? { tags: set } : { addTags: o.add, removeTags: o.remove };
      const r = await client.call(fleetRoutes.update, { params: { id: d.id }, body });
      if (o.json) return void console.log(JSON.stringify(r, null, 2));
      printTagged(r);
    },
  );

  hubOpts(
    confirmable(device.command("retire"), "take a device out of service for good (revoked, kept as history)"),
  ).action(async (ref: string, o: Confirmable) => {
    const client = hubClientFrom(o);
    const d = await resolveDevice(client, ref);
    if (d.retiredAt) return void say(o, d, `device ${d.id} was already retired on ${d.retiredAt}`);
    await confirm(
      o,
      `Retire ${label(d)}? It is disconnected now, can never connect again and leaves fleet counts and deployments; its events and incidents stay.`,
    );
    const r = await client.call(fleetRoutes.retire, { params: { id: d.id } });
    say(o, r, `device ${r.id} retired (its history stays; kensa device delete ${r.id} removes its record)`);
  });

  hubOpts(
    confirmable(device.command("delete"), "delete a retired device, or one that never connected (its history stays)"),
  ).action(async (ref: string, o: Confirmable) => {
    const client = hubClientFrom(o);
    const d = await resolveDevice(client, ref);
    await confirm(
      o,
      `Delete ${label(d)}? Its record, credentials, certificates and latest frame go; its events, incidents and media stay under its id, which is never given again.`,
    );
    await client.call(fleetRoutes.remove, { params: { id: d.id } });
    if (o.json) return void console.log(JSON.stringify({ id: d.id, deleted: true }));
    console.log(`device ${d.id} deleted`);
  });

  hubOpts(
    confirmable(device.command("rotate-secret"), "give a device a new secret (shown once); the old one stops now"),
  ).action(async (ref: string, o: Confirmable) => {
    const client = hubClientFrom(o);
    const d = await resolveDevice(client, ref);
    await confirm(o, `Rotate the secret of ${label(d)}? Its current secret stops working and it is disconnected now.`);
    const r = await client.call(fleetRoutes.rotateSecret, { params: { id: d.id } });
    if (o.json) return void console.log(JSON.stringify(r, null, 2));
    console.log(`device ${r.device.id}: new secret; the old one is refused from now on`);
    console.log(`secret (shown once, store it now): ${r.secret}`);
    console.log(`restart its agent with:\n  KENSA_DEVICE_SECRET=${r.secret} ${r.command}`);
  });

  hubOpts(
    confirmable(
      device.command("revoke"),
      "refuse a device's secret and certificates now (rotate-secret enables it again)",
    ),
  ).action(async (ref: string, o: Confirmable) => {
    const client = hubClientFrom(o);
    const d = await resolveDevice(client, ref);
    await confirm(o, `Revoke ${label(d)}? It is disconnected now and refused until its secret is rotated.`);
    const r = await client.call(fleetRoutes.revoke, { params: { id: d.id } });
    const pending = r.brokerAccount === "pending" ? " (the external broker has not confirmed yet; retrying)" : "";
    say(o, r, `device ${r.id} revoked${pending}`);
  });
}

function confirmable(cmd: Command, description: string): Command {
  return cmd
    .description(description)
    .argument("<device>", "id or name")
    .option("-y, --yes", "do not ask for confirmation")
    .option("--json", "print JSON");
}

/** Asks on a terminal; without one, only `--yes` goes ahead. */
async function confirm(o: Confirmable, question: string): Promise<void> {
  if (o.yes) return;
  if (!process.stdin.isTTY) {
    throw new KensaError("KENSA_ERR_FLAG_INVALID", `${question} Pass --yes to confirm (no terminal to ask on).`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes")
      throw new KensaError("KENSA_ERR_FLAG_INVALID", "not confirmed; nothing done");
  } finally {
    rl.close();
  }
}

function label(d: Device): string {
  return d.name && d.name !== d.id ? `${d.id} ("${d.name}")` : d.id;
}

function say(o: { json?: boolean }, d: Device, line: string): void {
  console.log(o.json ? JSON.stringify(d, null, 2) : line);
}

function printTagged(r: UpdatedDevice): void {
  console.log(`device ${r.device.id}: tags ${r.device.tags.length ? r.device.tags.join(", ") : "(none)"}`);
  if (r.device.retiredAt) console.log("retired: no deployment follows its tags");
  else if (r.applied.length === 0) console.log("no deployment changed");
  for (const a of r.applied)
    console.log(`pipeline ${a.pipeline}: now deployment ${a.deploymentId} (model ${a.modelVersionId})`);
}
