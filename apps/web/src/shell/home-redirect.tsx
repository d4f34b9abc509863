import { Navigate } from "react-router-dom";
import { Page } from "../ui";
import { useNavItems } from "./use-nav-items";

/** "/" goes to the first page the user may open (incidents for most roles). */
export function HomeRedirect() {
  const [first] = useNavItems();
  if (!first) {
    return (
      <Page title="Welcome">
        <p>Your role gives access to no page yet. Ask an administrator.</p>
      </Page>
    );
  }
  return <Navigate to={first.path} replace />;
}
