/**
 * The URLs agents and people are given. Known from config, or only once the listeners are
 * bound (port 0), so services read them when they need them instead of at construction.
 */
export class HubUrls {
  #http: string;
  #mqtt: string;

  constructor(http: string, mqtt: string) {
    this.#http = stripSlash(http);
    this.#mqtt = mqtt;
  }

  /** base URL of the HTTP API and console, without a trailing slash */
  get http(): string {
    return this.#http;
  }

  get mqtt(): string {
    return this.#mqtt;
  }

  set(http: string, mqtt: string): void {
    this.#http = stripSlash(http);
    this.#mqtt = mqtt;
  }
}

function stripSlash(u: string): string {
  return u.replace(/\/+$/, "");
}

/** A connectable host for a bind address: wildcard binds are reached over loopback. */
export function connectHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
