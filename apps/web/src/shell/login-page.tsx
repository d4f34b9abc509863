import { type FormEvent, useEffect, useRef, useState } from "react";
import { ApiError, describeError } from "../api/client";
import { useAuth } from "../auth";
import { Button, Field, Logo } from "../ui";

/** Shown at any URL while nobody is signed in, so a link from an e-mail opens after signing in. */
export function LoginPage() {
  const { login } = useAuth();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const userRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    document.title = "Sign in · Kensa";
    userRef.current?.focus();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? { code: err.code, message: "Wrong username or password." }
          : describeError(err),
      );
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title">
        <div className="brand login-brand">
          <Logo />
          Kensa
        </div>
        <h1 id="login-title">Sign in</h1>
        <Field label="Username">
          {(id) => (
            <input
              id={id}
              ref={userRef}
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              required
              value={username}
              onChange={(e) => setUsername(e.target.value)}
            />
          )}
        </Field>
        <Field label="Password">
          {(id) => (
            <input
              id={id}
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        {error ? (
          <p className="form-error" role="alert">
            <code>{error.code}</code> {error.message}
          </p>
        ) : null}
        <Button type="submit" variant="primary" size="lg" busy={busy}>
          Sign in
        </Button>
      </form>
    </main>
  );
}
