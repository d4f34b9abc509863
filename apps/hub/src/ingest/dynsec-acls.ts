import { devicePublishChannels, HUB_TOPIC_ROOT, TOPIC_ROOT, topics } from "@kensa/contracts";

// The ACLs the hub keeps on a Mosquitto with dynamic security: the same rules as device-acl.ts.

/** the role holding the hub's own ACL */
export const HUB_ROLE = "kensa-hub";
/** each device's role is this prefix and its id */
export const DEVICE_ROLE_PREFIX = "kensa-device-";

export interface DynsecAcl {
  acltype: "publishClientSend" | "publishClientReceive" | "subscribePattern" | "subscribeLiteral";
  topic: string;
  priority: number;
  allow: boolean;
}

/**
 * A device's ACL, the same as the embedded broker's (device-acl.ts): publish on its four
 * channels only, subscribe and receive below its own prefix only. The lower-priority denials make
 * that hold whatever the broker's default ACL access is set to.
 */
export function deviceAcls(deviceId: string): DynsecAcl[] {
  const prefix = topics.devicePrefix(deviceId);
  return [
    ...devicePublishChannels.map(
      (channel): DynsecAcl => ({
        acltype: "publishClientSend",
        topic: `${prefix}${channel}`,
        priority: 10,
        allow: true,
      }),
    ),
    { acltype: "subscribePattern", topic: `${prefix}#`, priority: 10, allow: true },
    { acltype: "publishClientReceive", topic: `${prefix}#`, priority: 10, allow: true },
    { acltype: "publishClientSend", topic: "#", priority: 0, allow: false },
    { acltype: "subscribePattern", topic: "#", priority: 0, allow: false },
    { acltype: "publishClientReceive", topic: "#", priority: 0, allow: false },
  ];
}

/**
 * The hub's ACL: publish every device's `desired` and `acks`, subscribe to and receive every
 * device topic, directly or through a shared subscription (`$share/<group>/…`: Mosquitto 2.0
 * checks a shared subscription's filter with its `$share/<group>/` prefix, later versions
 * without it, so both are granted), and its own topics below HUB_TOPIC_ROOT.
 */
export function hubAcls(): DynsecAcl[] {
  return [
    { acltype: "publishClientSend", topic: topics.desired("+"), priority: 0, allow: true },
    { acltype: "publishClientSend", topic: topics.acks("+"), priority: 0, allow: true },
    { acltype: "subscribePattern", topic: `${TOPIC_ROOT}/#`, priority: 0, allow: true },
    { acltype: "subscribePattern", topic: `$share/+/${TOPIC_ROOT}/#`, priority: 0, allow: true },
    { acltype: "publishClientReceive", topic: `${TOPIC_ROOT}/#`, priority: 0, allow: true },
    { acltype: "publishClientSend", topic: `${HUB_TOPIC_ROOT}/#`, priority: 0, allow: true },
    { acltype: "subscribePattern", topic: `${HUB_TOPIC_ROOT}/#`, priority: 0, allow: true },
    { acltype: "subscribePattern", topic: `$share/+/${HUB_TOPIC_ROOT}/#`, priority: 0, allow: true },
    { acltype: "publishClientReceive", topic: `${HUB_TOPIC_ROOT}/#`, priority: 0, allow: true },
  ];
}

/** Whether two ACL lists hold the same entries, in any order. */
export function sameAcls(a: DynsecAcl[], b: DynsecAcl[]): boolean {
  const key = (x: DynsecAcl) => `${x.acltype}\u0000${x.topic}\u0000${x.priority}\u0000${x.allow}`;
  const left = new Set(a.map(key));
  return a.length === b.length && b.every((x) => left.has(key(x)));
}
