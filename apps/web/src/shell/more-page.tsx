import { Link } from "react-router-dom";
import { useAuth, useUser } from "../auth";
import { roleLabel } from "../role-label";
import { Button, Icon, Page, useToast } from "../ui";
import { useNavItems } from "./use-nav-items";

/** Everything that does not fit the phone tab bar, and the account. */
export function MorePage() {
  const items = useNavItems();
  const user = useUser();
  const { logout } = useAuth();
  const toast = useToast();
  return (
    <Page title="More">
      <ul className="more-list">
        {items.map((i) => (
          <li key={i.path}>
            <Link to={i.path} className="more-link">
              <Icon name={i.icon} /> {i.label}
            </Link>
          </li>
        ))}
      </ul>
      <div className="card">
        <p>
          Signed in as <strong>{user.displayName || user.username}</strong> ({roleLabel(user.role)})
        </p>
        <Button
          size="lg"
          icon={<Icon name="logout" />}
          onClick={() => logout().catch((err: unknown) => toast.error(err, "Sign-out failed"))}
        >
          Sign out
        </Button>
      </div>
    </Page>
  );
}
