import type { Duplex } from "node:stream";
import { createServer as createTlsServer, TLSSocket, type Server as TlsServer } from "node:tls";
import type { ClientCertificateMode } from "../config/tls-config.js";
import type { TlsMaterial } from "../http/tls.js";

/** The listener's TLS settings: its certificate, and the CAs client certificates must chain to. */
export interface BrokerTlsOptions {
  material: TlsMaterial;
  clientCertificates: ClientCertificateMode;
}

/**
 * A TLS server for the broker. Client certificates are asked for but not demanded in the
 * handshake: whether a client may go on is decided at its CONNECT (the hub's own client has
 * none, and a refusal there is a CONNACK the device can log, not a bare reset).
 */
export function createBrokerTlsServer(tls: BrokerTlsOptions, handle: (stream: Duplex) => void): TlsServer {
  return createTlsServer({ ...secureOptions(tls), minVersion: "TLSv1.2" }, handle);
}

/** The options a reload hands to `setSecureContext`. */
export function secureOptions(tls: BrokerTlsOptions): {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  requestCert: boolean;
  rejectUnauthorized: boolean;
} {
  const asks = tls.clientCertificates !== "off";
  return {
    cert: tls.material.cert,
    key: tls.material.key,
    ...(asks && tls.material.ca ? { ca: tls.material.ca } : {}),
    requestCert: asks,
    rejectUnauthorized: false,
  };
}

/**
 * The device id a connection's client certificate names (its subject CN) and its serial
 * (normalized hex), when the certificate chains to a trusted CA; null without a certificate or
 * with one that does not verify.
 */
export function certificateIdentity(conn: unknown): { deviceId: string; serial: string } | null {
  if (!(conn instanceof TLSSocket) || !conn.authorized) return null;
  const peer = conn.getPeerCertificate();
  const cn = peer?.subject?.CN;
  if (typeof cn !== "string" || !cn || typeof peer.serialNumber !== "string") return null;
  return {
    deviceId: cn,
    serial: peer.serialNumber
      .toLowerCase()
      .replaceAll(":", "")
      .replace(/^0+(?=.)/, ""),
  };
}

/** Why a connection's certificate was not accepted, for the log; null when it has none or it verified. */
export function certificateProblem(conn: unknown): string | null {
  if (!(conn instanceof TLSSocket) || conn.authorized) return null;
  const peer = conn.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return null;
  return String(conn.authorizationError ?? "unverified certificate");
}
