import type { CreatedToken, Role, Session, User } from "@kensa/contracts";
import { type ApiCall, apiCall } from "./helpers.js";

export interface TestUser {
  id: string;
  username: string;
  password: string;
  role: Role;
  /** an API token of this user */
  token: string;
  /** calls with this user's API token */
  call: ApiCall;
}

/** Creates a user with the admin token and gives it an API token. */
export async function createUser(
  httpUrl: string,
  admin: ApiCall,
  role: Role,
  username: string = role.replace(/_/g, "-"),
): Promise<TestUser> {
  const password = `pw-${username}-0123456789`;
  const u = await admin<User>("POST", "/api/v1/users", {
    body: { username, displayName: `Test ${username}`, role, password },
  });
  if (u.status !== 201) throw new Error(`create user ${username}: ${u.status} ${JSON.stringify(u.json)}`);
  const t = await admin<CreatedToken>("POST", `/api/v1/users/${u.json.id}/tokens`, { body: { name: "tests" } });
  if (t.status !== 201) throw new Error(`token for ${username}: ${t.status} ${JSON.stringify(t.json)}`);
  return {
    id: u.json.id,
    username,
    password,
    role,
    token: t.json.token,
    call: apiCall(httpUrl, `Bearer ${t.json.token}`),
  };
}

export interface Login {
  status: number;
  json: Session & { error?: { code: string; message: string } };
  headers: Headers;
  /** `kensa_session=<token>` for a Cookie header, or null when none was set */
  cookie: string | null;
  setCookie: string | null;
}

export async function login(httpUrl: string, username: string, password: string): Promise<Login> {
  const r = await apiCall(httpUrl, null)<Login["json"]>("POST", "/api/v1/auth/login", {
    body: { username, password },
  });
  const setCookie = r.headers.get("set-cookie");
  const cookie = setCookie ? setCookie.split(";")[0]! : null;
  return { ...r, cookie: cookie && cookie !== "kensa_session=" ? cookie : null, setCookie };
}

/** Calls as the browser would with a session cookie; `csrf: false` leaves the header out. */
export function cookieCall(httpUrl: string, cookie: string, opts: { csrf?: boolean } = {}): ApiCall {
  const call = apiCall(httpUrl, null);
  return (method, path, o = {}) => {
    const headers: Record<string, string> = { cookie, ...(o.headers ?? {}) };
    if (opts.csrf !== false && method !== "GET") headers["x-kensa-csrf"] = "1";
    return call(method, path, { ...o, headers });
  };
}
