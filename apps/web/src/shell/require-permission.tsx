import type { Permission } from "@kensa/contracts";
import type { ReactNode } from "react";
import { useAuth } from "../auth";
import { Page } from "../ui";

/** Shows the page only to users holding `permission`; the hub refuses the API calls anyway. */
export function RequirePermission({ permission, children }: { permission?: Permission; children: ReactNode }) {
  const { state } = useAuth();
  const allowed = !permission || (state.status === "signed-in" && state.permissions.has(permission));
  if (!allowed) {
    return (
      <Page title="Not allowed">
        <p role="alert">
          Your role does not include <code>{permission}</code>. Ask an administrator if you need it.
        </p>
      </Page>
    );
  }
  return children;
}
