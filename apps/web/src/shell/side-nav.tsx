import { NavLink } from "react-router-dom";
import { Icon, Logo } from "../ui";
import { useNavItems } from "./use-nav-items";

/** The desktop navigation (hidden below 900 px, where the tab bar takes over). */
export function SideNav() {
  const items = useNavItems();
  return (
    <nav className="side-nav" aria-label="Main">
      <div className="brand">
        <Logo />
        Kensa
      </div>
      <ul>
        {items.map((i) => (
          <li key={i.path}>
            <NavLink to={i.path} className="nav-link">
              <Icon name={i.icon} />
              <span>{i.label}</span>
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}
