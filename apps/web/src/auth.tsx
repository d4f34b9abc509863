import { type Permission, peopleRoutes, type Session, type SessionUser } from "@kensa/contracts";
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { ApiError, hub, onUnauthorized } from "./api/client";

export type AuthState =
  | { status: "loading" }
  | { status: "anonymous" }
  | { status: "signed-in"; user: SessionUser; permissions: ReadonlySet<Permission> };

interface AuthContextValue {
  state: AuthState;
  login(username: string, password: string): Promise<void>;
  logout(): Promise<void>;
}

const AuthContext = createContext<AuthContextValue | null>(null);

function signedIn(s: Session): AuthState {
  return { status: "signed-in", user: s.user, permissions: new Set(s.permissions) };
}

/** Holds who is signed in; asks the hub once on load (`peopleRoutes.me`) and after every 401. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: "loading" });

  useEffect(() => {
    let live = true;
    hub
      .call(peopleRoutes.me)
      .then((s) => live && setState(signedIn(s)))
      .catch((err: unknown) => {
        // a network error also lands on the login page, which shows it when signing in fails
        if (live) setState({ status: "anonymous" });
        if (!(err instanceof ApiError)) console.error(err);
      });
    const off = onUnauthorized(() => setState({ status: "anonymous" }));
    return () => {
      live = false;
      off();
    };
  }, []);

  const login = useCallback(async (username: string, password: string) => {
    const s = await hub.call(peopleRoutes.login, { body: { username, password } });
    setState(signedIn(s));
  }, []);

  const logout = useCallback(async () => {
    try {
      await hub.call(peopleRoutes.logout);
    } finally {
      setState({ status: "anonymous" });
    }
  }, []);

  const value = useMemo(() => ({ state, login, logout }), [state, login, logout]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthContextValue {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth must be used inside <AuthProvider>");
  return ctx;
}

/** The signed-in user; only call below the shell, which renders nothing until someone signed in. */
export function useUser(): SessionUser {
  const { state } = useAuth();
  if (state.status !== "signed-in") throw new Error("useUser needs a signed-in user");
  return state.user;
}

/** Whether the signed-in user holds `permission` (e.g. "incidents:review"). */
export function useCan(permission: Permission): boolean {
  const { state } = useAuth();
  return state.status === "signed-in" && state.permissions.has(permission);
}

/** Renders `children` only for users holding `permission`; the hub enforces it again anyway. */
export function Can({ permission, children }: { permission: Permission; children: ReactNode }) {
  return useCan(permission) ? children : null;
}
