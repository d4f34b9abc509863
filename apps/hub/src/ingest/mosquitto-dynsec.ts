import { randomBytes } from "node:crypto";
import { KensaError } from "@kensa/contracts";
import mqtt, { type MqttClient } from "mqtt";
import type { BrokerAccounts } from "../fleet/ports.js";
import { DEVICE_ROLE_PREFIX, type DynsecAcl, deviceAcls, HUB_ROLE, hubAcls, sameAcls } from "./dynsec-acls.js";
import {
  checkResponses,
  DynsecCalls,
  type DynsecCommand,
  type DynsecResponse,
  RESPONSE_TOPIC,
} from "./dynsec-control.js";
import type { ClientInfo, MosquittoDynsecOptions, ReconcileResult } from "./dynsec-types.js";

/** commands per dynsec message: each answer is one message, kept well below any packet limit */
const CHUNK = 100;

/**
 * Keeps device accounts on a Mosquitto with the dynamic-security plugin, over its own MQTT
 * connection as a dynsec admin: one role and one client (username and client id = device id)
 * per device, created or given a new password on enrolment and rotation, disabled on revocation,
 * and reconciled with the hub's database at every (re)connection, so a broker whose state was
 * lost is repaired. The hub stores only hashes, so a lost account is recreated without a
 * password and the device is marked `needs_rotation`.
 */
export class MosquittoDynsec implements BrokerAccounts {
  readonly keepsAccounts = true;
  #opts: MosquittoDynsecOptions;
  #client: MqttClient | null = null;
  #calls = new DynsecCalls();
  #reconciling: Promise<ReconcileResult> | null = null;
  #again = false;
  #retryTimer: NodeJS.Timeout | null = null;
  /** the hub account's password is set on the first reconciliation of this process only */
  #hubPasswordSet = false;
  #closed = false;

  constructor(opts: MosquittoDynsecOptions) {
    this.#opts = opts;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /**
   * Connects and runs the first reconciliation (which creates the hub's own account), so the
   * hub's client can connect after it. Throws KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE when the broker does
   * not accept the admin within `timeoutMs`; later disconnections are retried for ever.
   */
  async start(): Promise<ReconcileResult> {
    const { url, adminUsername, adminPassword, log, retryMs, timeoutMs } = this.#opts;
    const client = mqtt.connect(url, {
      clientId: `kensa-dynsec-${randomBytes(6).toString("hex")}`,
      username: adminUsername,
      password: adminPassword,
      clean: true,
      reconnectPeriod: retryMs,
      // mqtt.js stops for good after a refused CONNACK by default; a broker restarting with a
      // restored file may refuse for a moment, and start() has its own deadline
      reconnectOnConnackError: true,
      connectTimeout: timeoutMs,
      protocolVersion: 4,
    });
    this.#client = client;
    client.on("message", (topic, payload) => {
      if (topic === RESPONSE_TOPIC) this.#calls.answer(payload);
    });
    client.on("error", (err) =>
      log.warn({ code: "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE", err: err.message }, "dynsec: error"),
    );
    client.on("close", () => this.#calls.failAll(new Error("the connection to the broker closed")));
    client.on("offline", () =>
      log.warn({ code: "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE" }, "dynsec: broker offline; reconnecting"),
    );

    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off("connect", onConnect);
        reject(
          new KensaError(
            "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE",
            `dynsec: cannot connect to ${url} as ${adminUsername}`,
            {
              url,
            },
          ),
        );
      }, timeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once("connect", onConnect);
    });
    try {
      await first;
      await client.subscribeAsync(RESPONSE_TOPIC, { qos: 1 });
    } catch (err) {
      await this.close();
      throw err;
    }
    const result = await this.reconcile();
    // every later connection (a restarted broker may have lost its state) reconciles again
    client.on("connect", () => {
      client.subscribeAsync(RESPONSE_TOPIC, { qos: 1 }).then(
        () => this.#reconcileInBackground(),
        (err: Error) => {
          log.error({ code: "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE", err: err.message }, "dynsec: subscribe failed");
          this.#scheduleRetry();
        },
      );
    });
    return result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const client = this.#client;
    this.#client = null;
    this.#calls.failAll(new Error("the dynsec manager is closing"));
    await client?.endAsync(true).catch(() => {});
  }

  /** Sends commands as one message and resolves with their answers, in order. Throws KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE. */
  async command(commands: DynsecCommand[]): Promise<DynsecResponse[]> {
    const client = this.#client;
    if (!client?.connected) {
      throw new KensaError("KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE", "dynsec: not connected to the broker");
    }
    return this.#calls.send(client, commands, this.#opts.timeoutMs);
  }

  /** Creates or updates the device's role and client with this password, enabled, and ends its live sessions. */
  async setSecret(deviceId: string, secret: string): Promise<void> {
    this.#refuseReserved(deviceId);
    const role = DEVICE_ROLE_PREFIX + deviceId;
    const responses = await this.command([
      { command: "createRole", rolename: role, acls: deviceAcls(deviceId) },
      { command: "createClient", username: deviceId, clientid: deviceId, roles: [{ rolename: role }] },
      // whether just created or already there: exactly this password, client id and role
      {
        command: "modifyClient",
        username: deviceId,
        clientid: deviceId,
        password: secret,
        roles: [{ rolename: role }],
      },
      // a disable ends live sessions on every Mosquitto version (2.0 also does on a new password)
      { command: "disableClient", username: deviceId },
      { command: "enableClient", username: deviceId },
    ]);
    checkResponses(responses, deviceId, ["Role already exists", "Client already exists"]);
  }

  /**
   * Disables the device's client (which ends its live sessions). On failure it logs, schedules
   * a retry (the reconciliation disables every revoked device) and throws.
   */
  async disable(deviceId: string): Promise<void> {
    try {
      checkResponses(await this.command([{ command: "disableClient", username: deviceId }]), deviceId, [
        "Client not found",
      ]);
    } catch (err) {
      this.#opts.log.error(
        { code: "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE", deviceId, err: (err as Error).message },
        "dynsec: revocation not applied on the broker yet; retrying",
      );
      this.#scheduleRetry();
      throw err;
    }
  }

  /** Nothing more to do: setSecret and disable already ended the sessions on the broker. */
  async disconnect(): Promise<void> {}

  /**
   * Makes the broker match the hub: the hub's role and account, then every device's role,
   * client, client id and enabled state. One pass at a time; a call during a pass runs another
   * after it. Throws KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE only when the broker cannot be reached at all.
   */
  reconcile(): Promise<ReconcileResult> {
    if (this.#reconciling) {
      this.#again = true;
      return this.#reconciling;
    }
    const run = async (): Promise<ReconcileResult> => {
      try {
        let result: ReconcileResult;
        do {
          this.#again = false;
          result = await this.#reconcileOnce();
        } while (this.#again);
        return result;
      } finally {
        this.#reconciling = null;
      }
    };
    this.#reconciling = run();
    return this.#reconciling;
  }

  async #reconcileOnce(): Promise<ReconcileResult> {
    const { log, devices } = this.#opts;
    await this.#reconcileHub();
    const result: ReconcileResult = { ok: 0, needsRotation: [], failed: [] };
    const states = (await devices.accountStates()).filter((d) => {
      if (!this.#isReserved(d.id)) return true;
      result.failed.push({
        item: d.id,
        code: "KENSA_ERR_VALIDATION",
        message: "the device id is the hub's or the dynsec admin's username; it gets no account",
      });
      return false;
    });
    // a chunk the broker did not answer fails whole: its devices are tried again next pass
    const failChunk = (chunk: typeof states, err: Error) => {
      for (const d of chunk) {
        result.failed.push({ item: d.id, code: "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE", message: err.message });
      }
    };
    for (let i = 0; i < states.length; i += CHUNK) {
      const chunk = states.slice(i, i + CHUNK);
      let found: DynsecResponse[];
      try {
        found = await this.command(
          chunk.flatMap((d) => [
            { command: "getClient", username: d.id },
            { command: "getRole", rolename: DEVICE_ROLE_PREFIX + d.id },
          ]),
        );
      } catch (err) {
        failChunk(chunk, err as Error);
        continue;
      }
      const plans = chunk.map((d, k) => this.#plan(d, found[2 * k], found[2 * k + 1]));
      const commands = plans.flatMap((p) => p.commands);
      let answers: DynsecResponse[] = [];
      if (commands.length) {
        try {
          answers = await this.command(commands);
        } catch (err) {
          failChunk(chunk, err as Error);
          continue;
        }
      }
      let at = 0;
      for (const [k, d] of chunk.entries()) {
        const plan = plans[k]!;
        const mine = answers.slice(at, at + plan.commands.length);
        at += plan.commands.length;
        const error = mine.find((r) => r.error)?.error;
        if (error) {
          result.failed.push({
            item: d.id,
            code: "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE",
            message: `dynsec refused: ${error}`,
          });
          continue;
        }
        try {
          if (plan.missing && !d.revoked) {
            await devices.setBrokerAccount(d.id, "needs_rotation");
            result.needsRotation.push(d.id);
            log.warn(
              { code: "KENSA_ERR_BROKER_ACCOUNT_MISSING", deviceId: d.id },
              "dynsec: the broker had no account for this device; recreated without a password: rotate its secret",
            );
          } else if (d.revoked && d.brokerAccount === "pending") {
            await devices.setBrokerAccount(d.id, null);
          }
          result.ok++;
        } catch (err) {
          result.failed.push({ item: d.id, code: "KENSA_ERR_INTERNAL", message: (err as Error).message });
        }
      }
    }
    if (result.failed.length) {
      log.error(
        { code: result.failed[0]!.code, failed: result.failed.slice(0, 20), count: result.failed.length },
        "dynsec: reconciliation left devices out of step; retrying",
      );
      this.#scheduleRetry();
    } else {
      log.info(
        { devices: result.ok, needsRotation: result.needsRotation.length },
        "dynsec: broker accounts reconciled",
      );
    }
    return result;
  }

  /** The commands that bring one device's account in line, from what the broker holds. */
  #plan(
    d: { id: string; revoked: boolean; brokerAccount: string | null },
    clientAnswer: DynsecResponse | undefined,
    roleAnswer: DynsecResponse | undefined,
  ): { commands: DynsecCommand[]; missing: boolean } {
    const role = DEVICE_ROLE_PREFIX + d.id;
    const commands: DynsecCommand[] = [];
    const roleCommands = this.#roleCommands(role, deviceAcls(d.id), roleAnswer);
    commands.push(...roleCommands);
    const client = clientAnswer?.data?.client as ClientInfo | undefined;
    if (!client) {
      // the password is gone with the broker's state, and the hub has only a hash of it
      commands.push({ command: "createClient", username: d.id, clientid: d.id, roles: [{ rolename: role }] });
      if (d.revoked) commands.push({ command: "disableClient", username: d.id });
      return { commands, missing: true };
    }
    const roles = (client.roles ?? []).map((r) => r.rolename);
    if (roleCommands.length || client.clientid !== d.id || roles.length !== 1 || roles[0] !== role) {
      commands.push({ command: "modifyClient", username: d.id, clientid: d.id, roles: [{ rolename: role }] });
    }
    if (d.revoked && !client.disabled) commands.push({ command: "disableClient", username: d.id });
    if (!d.revoked && client.disabled && d.brokerAccount !== "needs_rotation") {
      commands.push({ command: "enableClient", username: d.id });
    }
    return { commands, missing: false };
  }

  /** Creates the role, or recreates it when its ACL differs (a deleted role leaves its clients: re-grant it). */
  #roleCommands(role: string, acls: DynsecAcl[], answer: DynsecResponse | undefined): DynsecCommand[] {
    const existing = (answer?.data?.role as { acls?: DynsecAcl[] } | undefined)?.acls;
    if (existing && sameAcls(existing, acls)) return [];
    return [
      ...(existing ? [{ command: "deleteRole", rolename: role }] : []),
      { command: "createRole", rolename: role, acls },
    ];
  }

  async #reconcileHub(): Promise<void> {
    const { hubUsername, hubPassword, adminUsername } = this.#opts;
    const [roleAnswer, clientAnswer] = await this.command([
      { command: "getRole", rolename: HUB_ROLE },
      { command: "getClient", username: hubUsername },
    ]);
    const commands = this.#roleCommands(HUB_ROLE, hubAcls(), roleAnswer);
    const client = clientAnswer?.data?.client as ClientInfo | undefined;
    const roles = new Set((client?.roles ?? []).map((r) => r.rolename));
    const needsRole = commands.length > 0 || !roles.has(HUB_ROLE);
    roles.add(HUB_ROLE);
    const roleList = [...roles].map((rolename) => ({ rolename }));
    if (!client) {
      commands.push({ command: "createClient", username: hubUsername, password: hubPassword, roles: roleList });
    } else if (hubUsername === adminUsername) {
      // the admin's own account: its password is the admin's business
      if (needsRole) commands.push({ command: "modifyClient", username: hubUsername, roles: roleList });
    } else if (!this.#hubPasswordSet || needsRole) {
      // the configured password may have changed since the last start
      commands.push({ command: "modifyClient", username: hubUsername, password: hubPassword, roles: roleList });
    }
    if (commands.length) checkResponses(await this.command(commands), hubUsername, []);
    this.#hubPasswordSet = true;
  }

  #reconcileInBackground(): void {
    if (this.#closed) return;
    this.reconcile().catch((err: Error) => {
      this.#opts.log.error(
        { code: "KENSA_ERR_BROKER_ACCOUNTS_UNAVAILABLE", err: err.message },
        "dynsec: reconciliation failed; retrying",
      );
      this.#scheduleRetry();
    });
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#reconcileInBackground();
    }, this.#opts.retryMs);
    this.#retryTimer.unref();
  }

  #isReserved(deviceId: string): boolean {
    return deviceId === this.#opts.hubUsername || deviceId === this.#opts.adminUsername;
  }

  #refuseReserved(deviceId: string): void {
    if (this.#isReserved(deviceId)) {
      throw new KensaError(
        "KENSA_ERR_VALIDATION",
        `device id "${deviceId}" is the broker username of the hub or its admin`,
        {
          issues: [{ path: "/id", message: "reserved for the hub's broker accounts" }],
        },
      );
    }
  }
}
