import { timingSafeEqual } from "node:crypto";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import type { Server as TlsServer } from "node:tls";
import { KensaError } from "@kensa/contracts";
import { Aedes, type AuthenticateError, type Client } from "aedes";
import type { BrokerAccounts } from "../fleet/ports.js";
import { guardPacketSize } from "../limits/mqtt-packet-guard.js";
import type { Logger } from "../logger.js";
import {
  type BrokerTlsOptions,
  certificateIdentity,
  certificateProblem,
  createBrokerTlsServer,
  secureOptions,
} from "./broker-tls.js";
import { type AclRefusal, mayPublish, maySubscribe, remoteAddress } from "./device-acl.js";

export interface BrokerCounters {
  /** CONNECTs refused for bad credentials or a client id owned by someone else */
  authRefused: number;
  publishRefused: number;
  subscribeRefused: number;
}

type Principal = { kind: "hub" } | { kind: "device"; deviceId: string };

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  hubUsername: string;
  hubPassword: string;
  /**
   * true when `secret` is the device's secret; `from` is the client's address. Throws (CONNACK 3,
   * "server unavailable": try later) while the device or the address is locked out.
   */
  verifyDevice(deviceId: string, secret: string, from: string): Promise<boolean>;
  /** MQTT over TLS on the listener (plain MQTT when omitted) */
  tls?: BrokerTlsOptions;
  /**
   * true when a verified client certificate (its CN names the device, `serial` in normalized hex)
   * is one the hub issued to that device and neither it nor the device is revoked
   */
  verifyDeviceCertificate?(deviceId: string, serial: string): Promise<boolean>;
  /**
   * Takes what devices publish (and their presence wills) as the broker authorizes it, instead of
   * the hub reading it back through a client of its own: one parse, no loopback delivery and
   * acknowledgement per message. A promise holds that device's next message until it resolves
   * (the ingest's backpressure).
   */
  onDeviceMessage?: (topic: string, payload: Buffer) => Promise<void> | undefined;
  /** hears every refused CONNECT, PUBLISH and SUBSCRIBE (the audit log records them) */
  onRefused?: (refusal: AclRefusal) => void;
  log: Logger;
  /** bytes; a client announcing a larger packet is disconnected (limits.mqttPacketBytes, 2 MiB by default) */
  maxPacketBytes?: number;
}

/**
 * The MQTT broker inside the hub: Aedes on its own TCP listener, with per-device auth and ACL.
 * It asks the hub at every CONNECT, so it keeps no accounts: a rotation or a revocation only has
 * to end the device's live sessions.
 */
export class EmbeddedBroker implements BrokerAccounts {
  readonly keepsAccounts = false;
  readonly counters: BrokerCounters = { authRefused: 0, publishRefused: 0, subscribeRefused: 0 };
  #opts: EmbeddedBrokerOptions;
  #aedes: Aedes | null = null;
  #server: Server | TlsServer | null = null;
  #sockets = new Set<Socket>();
  #principals = new WeakMap<Client, Principal>();
  /**
   * client id → who first used it. Sessions live as long as this broker (memory persistence),
   * so a device may never take over another principal's client id and with it its session.
   */
  #owners = new Map<string, string>();
  /** device id → its connected clients, for disconnect() */
  #deviceClients = new Map<string, Set<Client>>();

  constructor(opts: EmbeddedBrokerOptions) {
    this.#opts = opts;
  }

  /** Binds the listener; resolves with the bound port. Throws KENSA_ERR_PORT_IN_USE. */
  async listen(): Promise<number> {
    const { host, port, log } = this.#opts;
    const aedes = await Aedes.createBroker({
      // Aedes routes every message through one emitter that lets `concurrency` deliveries wait
      // at once (100 by default). A subscriber that stops reading holds its deliveries until its
      // socket drains, so a few stalled devices used to fill those slots and hold up delivery to
      // everyone (acks included); and when the slots freed, the emitter worked through its queue
      // recursively and a long queue overflowed the stack and killed the hub. 0 lifts the global
      // limit: each client still has at most `maxInflightInbound` publishes in the broker, and a
      // stalled subscriber only waits for itself. (Regression: embedded-broker-stall.test.ts.)
      concurrency: 0,
      authenticate: (client, username, password, done) => this.#authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => {
        const take = () => {
          const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
          const wait = this.#opts.onDeviceMessage?.(packet.topic, payload);
          if (wait)
            wait.then(
              () => done(null),
              () => done(null),
            );
          else done(null);
        };
        if (!client) {
          // a stored last will published after its client is gone: only presence wills exist
          if (!packet.topic.endsWith("/presence")) return done(new Error("not authorized"));
          return take();
        }
        const who = this.#principals.get(client);
        if (who?.kind === "hub") return done(null);
        if (who?.kind === "device" && mayPublish(who.deviceId, packet.topic)) return take();
        this.counters.publishRefused++;
        this.#opts.onRefused?.({
          what: "publish",
          deviceId: who?.kind === "device" ? who.deviceId : null,
          clientId: client.id,
          topic: packet.topic,
          ip: remoteAddress(client),
        });
        log.warn(
          { clientId: client.id, deviceId: who?.kind === "device" ? who.deviceId : null, topic: packet.topic },
          "mqtt publish refused",
        );
        // Aedes closes the connection on an error: MQTT 3.1.1 has no way to refuse one message.
        done(new Error("not authorized"));
      },
      authorizeSubscribe: (client, sub, done) => {
        const who = this.#principals.get(client);
        if (who?.kind === "hub") return done(null, sub);
        if (who?.kind === "device" && maySubscribe(who.deviceId, sub.topic)) return done(null, sub);
        this.counters.subscribeRefused++;
        this.#opts.onRefused?.({
          what: "subscribe",
          deviceId: who?.kind === "device" ? who.deviceId : null,
          clientId: client.id,
          topic: sub.topic,
          ip: remoteAddress(client),
        });
        log.warn(
          { clientId: client.id, deviceId: who?.kind === "device" ? who.deviceId : null, topic: sub.topic },
          "mqtt subscribe refused",
        );
        // null negates just this subscription (SUBACK 0x80); the connection stays up
        done(null, null);
      },
    });
    aedes.on("clientDisconnect", (client) => {
      const who = this.#principals.get(client);
      if (who?.kind !== "device") return;
      const set = this.#deviceClients.get(who.deviceId);
      set?.delete(client);
      if (set?.size === 0) this.#deviceClients.delete(who.deviceId);
    });
    aedes.on("clientError", (client, err) => log.debug({ clientId: client.id, err: err.message }, "mqtt client error"));
    aedes.on("connectionError", (client, err) =>
      log.debug({ clientId: client?.id, err: err.message }, "mqtt connection error"),
    );
    this.#aedes = aedes;
    // Aedes's parser has no size bound: every listener's sockets pass the packet-size guard first
    const maxPacketBytes = this.#opts.maxPacketBytes ?? 2 * 1024 * 1024;
    const handle = aedes.handle;
    aedes.handle = (conn, req) => {
      const socket = conn as Socket;
      guardPacketSize(socket, maxPacketBytes, (bytes) =>
        log.warn(
          { remote: socket.remoteAddress, bytes, limit: maxPacketBytes, code: "KENSA_ERR_MQTT_PACKET_TOO_LARGE" },
          "mqtt packet too large: connection closed",
        ),
      );
      return handle(conn, req);
    };
    const tls = this.#opts.tls;
    const server = tls ? createBrokerTlsServer(tls, aedes.handle) : createServer(aedes.handle);
    // aedes closes the clients it knows; a socket that has not sent CONNECT yet is not one of
    // them, and server.close() waits for every socket
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
    this.#server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      await this.close();
      if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
        // 1883 is also a system Mosquitto's port: say so, and how to move aside
        throw new KensaError(
          "KENSA_ERR_PORT_IN_USE",
          `mqtt listener: port ${port} on ${host} is already in use, probably by another MQTT broker (a system Mosquitto?); ` +
            "give the embedded broker another port with --mqtt-port or mqtt.embedded.port in the hub config, " +
            "or use that broker instead (mqtt.url, mqtt.embedded.enabled false)",
          { listener: "mqtt", host, port },
        );
      }
      throw err;
    }
    return (server.address() as AddressInfo).port;
  }

  /** New certificate files for the TLS listener (a reload); connections made later use them. */
  setTls(tls: BrokerTlsOptions): void {
    this.#opts.tls = tls;
    if (this.#server && "setSecureContext" in this.#server) this.#server.setSecureContext(secureOptions(tls));
  }

  /** Nothing to do: every CONNECT is checked against the hub's database. */
  async setSecret(): Promise<void> {}

  /** Nothing to do: every CONNECT is checked against the hub's database. */
  async disable(): Promise<void> {}

  /** Closes every connection of the device (its will, a presence "offline", is published). */
  async disconnect(deviceId: string): Promise<void> {
    const clients = [...(this.#deviceClients.get(deviceId) ?? [])];
    this.#deviceClients.delete(deviceId);
    await Promise.all(clients.map((c) => new Promise<void>((resolve) => c.close(() => resolve()))));
    if (clients.length) this.#opts.log.info({ deviceId, clients: clients.length }, "mqtt device disconnected");
  }

  get connectedClients(): number {
    return this.#aedes?.connectedClients ?? 0;
  }

  async close(): Promise<void> {
    const aedes = this.#aedes;
    const server = this.#server;
    this.#aedes = null;
    this.#server = null;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    if (server?.listening) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of this.#sockets) socket.destroy();
      await closed;
    }
  }

  #authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const { hubUsername, hubPassword, verifyDevice, log } = this.#opts;
    const refuse = (reason: string, returnCode: number) => {
      this.counters.authRefused++;
      const ip = remoteAddress(client);
      this.#opts.onRefused?.({ what: "auth", username: username ?? null, clientId: client.id, reason, ip });
      log.warn({ clientId: client.id, username, reason }, "mqtt connection refused");
      const err = Object.assign(new Error(reason), { returnCode }) as AuthenticateError;
      done(err, null);
    };
    const accept = (p: Principal, name: string) => {
      const owner = this.#owners.get(client.id);
      if (owner !== undefined && owner !== name) return refuse("client id belongs to another principal", 2);
      this.#owners.set(client.id, name);
      this.#principals.set(client, p);
      if (p.kind === "device") {
        const set = this.#deviceClients.get(p.deviceId) ?? new Set<Client>();
        set.add(client);
        this.#deviceClients.set(p.deviceId, set);
      }
      done(null, true);
    };
    const mode = this.#opts.tls?.clientCertificates ?? "off";
    const identity = mode === "off" ? null : certificateIdentity(client.conn);
    const certified = identity?.deviceId;
    if (identity && certified && username !== hubUsername) {
      // the certificate is the credential: a username, if sent, must name the same device
      if (username && username !== certified) {
        refuse(`certificate is for ${certified}, not ${username}`, 4);
        return;
      }
      const check = this.#opts.verifyDeviceCertificate ?? (async () => false);
      check(certified, identity.serial).then(
        (ok) =>
          ok
            ? accept({ kind: "device", deviceId: certified }, certified)
            : refuse(`certificate ${identity.serial} not issued to ${certified}, or revoked`, 5),
        (err: Error) => refuse(`certificate check failed: ${err.message}`, 3),
      );
      return;
    }
    if (mode === "required" && username !== hubUsername) {
      const problem = certificateProblem(client.conn);
      refuse(problem ? `client certificate not accepted: ${problem}` : "client certificate required", 5);
      return;
    }
    if (!username || !password) {
      refuse("missing credentials", 4);
      return;
    }
    if (username === hubUsername) {
      const a = Buffer.from(password);
      const b = Buffer.from(hubPassword);
      if (a.length === b.length && timingSafeEqual(a, b)) accept({ kind: "hub" }, hubUsername);
      else refuse("bad credentials", 4);
      return;
    }
    const from = (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress ?? "unknown";
    verifyDevice(username, password.toString("utf8"), from).then(
      (ok) => (ok ? accept({ kind: "device", deviceId: username }, username) : refuse("bad credentials", 4)),
      (err: Error & { code?: string }) =>
        refuse(
          err.code === "KENSA_ERR_DEVICE_AUTH_THROTTLED"
            ? `throttled: ${err.message}`
            : `credential check failed: ${err.message}`,
          3,
        ),
    );
  }
}
