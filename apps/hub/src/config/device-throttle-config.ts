import { type Static, Type } from "@sinclair/typebox";

/**
 * `auth.deviceThrottle`: how failed device authentications (MQTT CONNECT and HTTP Basic) are
 * slowed. A device id or a source address that fails `maxFailures` (`ipMaxFailures`) times
 * within `windowMs` is locked out for `lockMs`, doubled at each further lockout up to
 * `maxLockMs`; while locked, its attempts are refused before any secret is hashed.
 */
export const DeviceThrottleConfigSchema = Type.Object(
  {
    /** failed attempts per device id within the window before it is locked out; 0 turns the throttle off */
    maxFailures: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 10 }),
    /**
     * failed attempts per source address within the window; higher than per device, as a site's
     * devices may share one address behind NAT
     */
    ipMaxFailures: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 50 }),
    /** ms over which failures are counted */
    windowMs: Type.Integer({ minimum: 10, maximum: 86_400_000, default: 300_000 }),
    /** ms of the first lockout */
    lockMs: Type.Integer({ minimum: 10, maximum: 86_400_000, default: 60_000 }),
    /** ms; the longest lockout, however often it repeats */
    maxLockMs: Type.Integer({ minimum: 10, maximum: 604_800_000, default: 3_600_000 }),
  },
  { additionalProperties: false, default: {} },
);

export type DeviceThrottleConfig = Static<typeof DeviceThrottleConfigSchema>;
