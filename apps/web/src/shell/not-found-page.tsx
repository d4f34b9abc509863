import { Link } from "react-router-dom";
import { Page } from "../ui";

export function NotFoundPage() {
  return (
    <Page title="Not found">
      <p>
        There is no page here. <Link to="/">Go to the start page</Link>.
      </p>
    </Page>
  );
}
