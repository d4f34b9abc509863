import { useEffect, useId, useRef, useState } from "react";
import { useAuth, useUser } from "../auth";
import { roleLabel } from "../role-label";
import { Icon, useToast } from "../ui";

/** The signed-in user's name and role, with sign-out; a disclosure menu, closed by Escape or a click outside. */
export function UserMenu() {
  const user = useUser();
  const { logout } = useAuth();
  const toast = useToast();
  const [open, setOpen] = useState(false);
  const menuId = useId();
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: PointerEvent) => {
      if (!root.current?.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    document.addEventListener("pointerdown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);
  return (
    <div className="user-menu" ref={root}>
      <button
        type="button"
        className="btn btn-ghost user-button"
        aria-expanded={open}
        aria-controls={menuId}
        onClick={() => setOpen((o) => !o)}
      >
        <Icon name="user" />
        <span className="user-name">{user.displayName || user.username}</span>
      </button>
      {open ? (
        <div id={menuId} className="menu">
          <div className="menu-head">
            <strong>{user.displayName || user.username}</strong>
            <span className="muted">
              {user.username} · {roleLabel(user.role)}
            </span>
          </div>
          <button
            type="button"
            className="menu-item"
            onClick={() => logout().catch((err: unknown) => toast.error(err, "Sign-out failed"))}
          >
            <Icon name="logout" /> Sign out
          </button>
        </div>
      ) : null}
    </div>
  );
}
