import type { Device } from "@kensa/contracts";
import { Badge, Facts, TimeAgo } from "../../ui";
import "./device-delivery.css";

/** "2 events missing from this device's sequence" */
export function missingText(missing: number): string {
  return `${missing.toLocaleString()} ${missing === 1 ? "event" : "events"} missing from this device's sequence`;
}

/** What the broker account state means, for people rather than for the hub. */
export const BROKER_ACCOUNT_TEXT: Record<Exclude<Device["brokerAccount"], "ok">, { label: string; explain: string }> = {
  pending: {
    label: "broker revocation pending",
    explain: "The MQTT broker has not confirmed the revocation yet; the hub keeps retrying.",
  },
  "needs-rotation": {
    label: "needs rotation",
    explain:
      "The MQTT broker lost this device's account, so the device cannot connect. Rotate its secret to create the account again, then give the agent the new secret.",
  },
};

/** Revoked, and the broker account when it is not in order; nothing for a device in good standing. */
export function CredentialBadges({ device }: { device: Device }) {
  const broker = device.brokerAccount === "ok" ? null : BROKER_ACCOUNT_TEXT[device.brokerAccount];
  if (!device.revokedAt && !broker) return null;
  return (
    <span className="row credential-badges">
      {device.revokedAt ? (
        <Badge tone="danger" title={`revoked ${new Date(device.revokedAt).toLocaleString()}`}>
          ⊘ revoked
        </Badge>
      ) : null}
      {broker ? (
        <Badge tone="warning" title={broker.explain}>
          ⚠ {broker.label}
        </Badge>
      ) : null}
    </span>
  );
}

/** The gap warning: events that left the device and never reached the hub. */
export function MissingWarning({ device, detail }: { device: Device; detail?: boolean }) {
  const { missing } = device.events;
  if (missing <= 0) return null;
  return (
    <p className="delivery-warning" data-testid="events-missing">
      <span aria-hidden="true">⚠ </span>
      {missingText(missing)}
      {detail ? (
        <span className="delivery-warning-detail">
          {" "}
          The hub stored events up to sequence number {device.events.maxSeq.toLocaleString()} but not all before it:
          they left the device without reaching the hub, or were stored under another device's id.
        </span>
      ) : null}
    </p>
  );
}

/** Compact, for the fleet list: "1,204 stored · seq 1,206" and the gap warning. */
export function EventSeqSummary({ device }: { device: Device }) {
  const { stored, maxSeq } = device.events;
  return (
    <div className="event-seq">
      <span>
        {stored.toLocaleString()} stored <span className="muted">· seq {maxSeq.toLocaleString()}</span>
      </span>
      <MissingWarning device={device} />
    </div>
  );
}

/** The device page's delivery card body: the figures, the warning explained, the credential state. */
export function DeliveryDetails({ device: d }: { device: Device }) {
  const broker = d.brokerAccount === "ok" ? null : BROKER_ACCOUNT_TEXT[d.brokerAccount];
  return (
    <div className="stack">
      <MissingWarning device={d} detail />
      <Facts
        items={[
          ["events stored", d.events.stored.toLocaleString()],
          ["highest seq", d.events.maxSeq.toLocaleString()],
          ["missing", d.events.missing.toLocaleString()],
          [
            "credentials",
            d.revokedAt ? (
              <span key="cred">
                <Badge tone="danger">⊘ revoked</Badge> <TimeAgo iso={d.revokedAt} />
              </span>
            ) : (
              "active"
            ),
          ],
          [
            "broker account",
            broker ? (
              <Badge tone="warning" key="broker">
                ⚠ {broker.label}
              </Badge>
            ) : (
              "ok"
            ),
          ],
        ]}
      />
      {d.revokedAt ? (
        <p className="muted">
          This device can neither connect nor fetch models. Rotating its secret is the only way to bring it back.
        </p>
      ) : null}
      {broker ? <p className="delivery-broker-note">{broker.explain}</p> : null}
    </div>
  );
}
