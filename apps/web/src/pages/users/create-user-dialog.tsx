import { type CreateUser, peopleRoutes, type Role, USERNAME_PATTERN, type User } from "@kensa/contracts";
import { type FormEvent, useState } from "react";
import { ApiError, describeError, hub } from "../../api/client";
import { roleLabel, roles } from "../../role-label";
import { Button, Dialog, Field } from "../../ui";

export function CreateUserDialog({
  open,
  onClose,
  onCreated,
}: {
  open: boolean;
  onClose(): void;
  onCreated(u: User): void;
}) {
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [role, setRole] = useState<Role>("site_engineer");
  const [password, setPassword] = useState("");
  const [sites, setSites] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);

  const close = () => {
    setUsername("");
    setDisplayName("");
    setPassword("");
    setSites("");
    setError(null);
    onClose();
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const scope = sites
      .split(/[\s,]+/)
      .map((x) => x.trim())
      .filter(Boolean);
    const body: CreateUser = {
      username: username.trim(),
      displayName: displayName.trim(),
      role,
      password,
      ...(scope.length ? { sites: scope } : {}),
    };
    try {
      onCreated(await hub.call(peopleRoutes.createUser, { body }));
      close();
    } catch (err) {
      setError(err instanceof ApiError ? { code: err.code, message: err.message } : describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open={open} title="New user" onClose={close}>
      <form className="stack" onSubmit={submit} aria-label="New user">
        <Field label="Username" hint="Lower-case letters, digits, dots, dashes, underscores.">
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              required
              pattern={USERNAME_PATTERN}
              autoCapitalize="none"
              autoComplete="off"
              value={username}
              onChange={(e) => setUsername(e.target.value)}
            />
          )}
        </Field>
        <Field label="Display name">
          {(id) => <input id={id} required value={displayName} onChange={(e) => setDisplayName(e.target.value)} />}
        </Field>
        <Field label="Role">
          {(id) => (
            <select id={id} value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {roles.map((r) => (
                <option key={r} value={r}>
                  {roleLabel(r)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field
          label="Sites"
          hint="Site ids, comma-separated: the user sees only these sites' incidents. Empty: every site."
        >
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              autoCapitalize="none"
              autoComplete="off"
              placeholder="every site"
              value={sites}
              onChange={(e) => setSites(e.target.value)}
            />
          )}
        </Field>
        <Field label="Initial password" hint="At least 8 characters; tell the person to change it.">
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              type="password"
              required
              minLength={8}
              autoComplete="new-password"
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
        <div className="row end">
          <Button onClick={close}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy}>
            Create user
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
