/** `Authorization` header value for HTTP Basic with the device credentials. */
export function basicAuth(deviceId: string, secret: string): string {
  return `Basic ${Buffer.from(`${deviceId}:${secret}`).toString("base64")}`;
}
