import { peopleRoutes, type Role, type UpdateUser, type User } from "@kensa/contracts";
import { useState } from "react";
import { hub } from "../../api/client";
import { useQuery } from "../../api/use-query";
import { useUser } from "../../auth";
import { roleLabel, roles } from "../../role-label";
import { Badge, Button, DataTable, ErrorState, Loading, Page, TimeAgo, useToast } from "../../ui";
import { CreateUserDialog } from "./create-user-dialog";

/** People and their roles (admins only). Role changes apply at once, rolled back if the hub refuses. */
export function UsersPage() {
  const me = useUser();
  const toast = useToast();
  const q = useQuery(peopleRoutes.listUsers);
  const [creating, setCreating] = useState(false);

  const update = async (user: User, patch: UpdateUser, done: string) => {
    const before = q.data;
    q.setData((prev) => prev && { items: prev.items.map((u) => (u.id === user.id ? { ...u, ...patch } : u)) });
    try {
      const saved = await hub.call(peopleRoutes.updateUser, { params: { id: user.id }, body: patch });
      q.setData((prev) => prev && { items: prev.items.map((u) => (u.id === saved.id ? saved : u)) });
      toast.success(done);
    } catch (err) {
      q.setData(before);
      toast.error(err, `Could not update ${user.username}`);
    }
  };

  return (
    <Page
      title="Users"
      actions={
        <Button variant="primary" onClick={() => setCreating(true)}>
          New user
        </Button>
      }
    >
      {q.error && !q.data ? (
        <ErrorState error={q.error} onRetry={q.reload} />
      ) : !q.data ? (
        <Loading label="Loading users" />
      ) : (
        <DataTable
          label="Users"
          rows={q.data.items}
          rowKey={(u) => u.id}
          columns={[
            {
              header: "User",
              cell: (u) => (
                <div>
                  <strong>{u.displayName}</strong>
                  <div className="muted mono">{u.username}</div>
                </div>
              ),
            },
            {
              header: "Role",
              cell: (u) => (
                <select
                  aria-label={`Role of ${u.username}`}
                  value={u.role}
                  disabled={u.id === me.id}
                  title={u.id === me.id ? "You cannot change your own role" : undefined}
                  onChange={(e) => {
                    const role = e.target.value as Role;
                    void update(u, { role }, `${u.username} is now ${roleLabel(role)}`);
                  }}
                >
                  {roles.map((r) => (
                    <option key={r} value={r}>
                      {roleLabel(r)}
                    </option>
                  ))}
                </select>
              ),
            },
            {
              header: "Sites",
              hideOnMobile: true,
              cell: (u) => (u.sites ? <span className="mono">{u.sites.join(", ") || "none"}</span> : "all"),
            },
            {
              header: "Status",
              cell: (u) => (u.disabled ? <Badge tone="danger">disabled</Badge> : <Badge tone="success">active</Badge>),
            },
            {
              header: "Created",
              hideOnMobile: true,
              cell: (u) => <TimeAgo iso={u.createdAt} />,
            },
            {
              header: "Actions",
              cell: (u) =>
                u.id === me.id ? null : (
                  <Button
                    size="sm"
                    onClick={() =>
                      void update(u, { disabled: !u.disabled }, `${u.username} ${u.disabled ? "enabled" : "disabled"}`)
                    }
                  >
                    {u.disabled ? "Enable" : "Disable"}
                  </Button>
                ),
            },
          ]}
        />
      )}
      <CreateUserDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(u) => {
          q.setData((prev) => ({ items: [...(prev?.items ?? []), u] }));
          toast.success(`Created ${u.username}`);
        }}
      />
    </Page>
  );
}
