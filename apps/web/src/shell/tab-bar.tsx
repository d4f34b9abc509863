import { NavLink } from "react-router-dom";
import { Icon } from "../ui";
import { MAX_TABS, useNavItems } from "./use-nav-items";

/** The phone navigation: thumb-reachable tabs at the bottom, the rest under "More". */
export function TabBar() {
  const items = useNavItems();
  const tabs = items.filter((i) => i.tab).slice(0, MAX_TABS);
  return (
    <nav className="tab-bar" aria-label="Tabs">
      {tabs.map((i) => (
        <NavLink key={i.path} to={i.path} className="tab">
          <Icon name={i.icon} />
          <span>{i.label}</span>
        </NavLink>
      ))}
      <NavLink to="/more" className="tab">
        <Icon name="more" />
        <span>More</span>
      </NavLink>
    </nav>
  );
}
