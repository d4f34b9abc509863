import { KensaError, type NotificationRouting, type PublicSmsRouting, type SmsGatewayAuth } from "@kensa/contracts";
import { isSealed, type SecretBox } from "../secrets/secret-box.js";

/** The purpose SMS gateway credentials are sealed for (bound into each envelope). */
export const SMS_GATEWAY_SECRET_PURPOSE = "sms-gateway-secret";

type Transform = (value: string) => string;

function mapAuth(auth: SmsGatewayAuth, f: Transform): SmsGatewayAuth {
  switch (auth.type) {
    case "none":
      return auth;
    case "bearer":
      return { ...auth, token: f(auth.token) };
    case "basic":
      return { ...auth, password: f(auth.password) };
    case "header":
      return { ...auth, value: f(auth.value) };
  }
}

function secretOf(auth: SmsGatewayAuth): string | null {
  if (auth.type === "bearer") return auth.token;
  if (auth.type === "basic") return auth.password;
  if (auth.type === "header") return auth.value;
  return null;
}

function withAuth(routing: NotificationRouting, f: Transform): NotificationRouting {
  if (!routing.sms) return routing;
  const sms = routing.sms;
  return { ...routing, sms: { ...sms, gateway: { ...sms.gateway, auth: mapAuth(sms.gateway.auth, f) } } };
}

/** The routing as stored: the gateway's token, password or header value sealed (plaintext only without a box). */
export function sealSmsAuth(routing: NotificationRouting, box: SecretBox | null): NotificationRouting {
  if (!box) return routing;
  return withAuth(routing, (v) => (isSealed(v) ? v : box.seal(v, SMS_GATEWAY_SECRET_PURPOSE)));
}

/** The routing as the notifier uses it: the gateway's secret in plaintext. */
export function openSmsAuth(routing: NotificationRouting, box: SecretBox | null): NotificationRouting {
  const secret = routing.sms ? secretOf(routing.sms.gateway.auth) : null;
  if (secret === null || !isSealed(secret)) return routing;
  if (!box) {
    throw new KensaError(
      "KENSA_ERR_SECRETS_KEY_MISSING",
      "an SMS gateway secret is sealed and no secrets key was given",
    );
  }
  return withAuth(routing, (v) => box.reveal(v, SMS_GATEWAY_SECRET_PURPOSE));
}

/** The SMS routing for replies: the gateway's auth type only, never its secret. */
export function publicSms(routing: NotificationRouting): { sms?: PublicSmsRouting } {
  const sms = routing.sms;
  if (!sms) return {};
  const { url, method, adapter, from, auth } = sms.gateway;
  return {
    sms: {
      gateway: { url, method, adapter, from, auth: { type: auth.type } },
      recipients: sms.recipients,
      maxPerHour: sms.maxPerHour,
      ...(sms.quietHours ? { quietHours: sms.quietHours } : {}),
    },
  };
}
