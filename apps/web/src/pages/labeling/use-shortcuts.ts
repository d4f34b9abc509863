import { useEffect, useRef } from "react";

/** A key, lower-case as KeyboardEvent.key spells it: "b", "delete", "arrowright", "?", "mod+z" (Ctrl or ⌘). */
export type ShortcutMap = Record<string, (e: KeyboardEvent) => void>;

function isTyping(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t.isContentEditable) return true;
  if (t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return true;
  // range sliders and checkboxes do not take text, so shortcuts keep working after using one
  return t instanceof HTMLInputElement && !["range", "checkbox", "radio", "button"].includes(t.type);
}

/**
 * Window-level shortcuts for a page. Ignored while typing in a field, and while a modal dialog
 * other than the help is open, so a shortcut never fires behind a form.
 */
export function useShortcuts(map: ShortcutMap, enabled = true): void {
  const ref = useRef(map);
  ref.current = map;
  useEffect(() => {
    if (!enabled) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey || isTyping(e.target)) return;
      // Enter on a focused button or link is that control's own action, not a page shortcut
      if (e.key === "Enter" && e.target instanceof HTMLElement && e.target.closest("button, a, summary")) return;
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      const name = mod ? `mod+${e.shiftKey ? "shift+" : ""}${key}` : key === "?" ? "?" : key;
      const f = ref.current[name];
      if (!f) return;
      e.preventDefault();
      f(e);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [enabled]);
}
