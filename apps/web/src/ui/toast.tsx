import { createContext, type ReactNode, useCallback, useContext, useMemo, useRef, useState } from "react";
import { describeError } from "../api/client";

interface Toast {
  id: number;
  tone: "error" | "success" | "info";
  message: string;
  /** the stable error code, shown so people can quote it */
  code?: string;
}

interface ToastApi {
  /** shows an API or client error with its code */
  error(err: unknown, context?: string): void;
  success(message: string): void;
  info(message: string): void;
}

const ToastContext = createContext<ToastApi | null>(null);

/** ms a success or info toast stays; errors stay until dismissed, people must be able to read the code */
const TOAST_MS = 4000;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);
  const push = useCallback(
    (t: Omit<Toast, "id">) => {
      const id = next.current++;
      setToasts((ts) => [...ts.slice(-4), { ...t, id }]);
      if (t.tone !== "error") setTimeout(() => dismiss(id), TOAST_MS);
    },
    [dismiss],
  );
  const value = useMemo<ToastApi>(
    () => ({
      error: (err, context) => {
        const { code, message } = describeError(err);
        push({ tone: "error", code, message: context ? `${context}: ${message}` : message });
      },
      success: (message) => push({ tone: "success", message }),
      info: (message) => push({ tone: "info", message }),
    }),
    [push],
  );
  return (
    <ToastContext.Provider value={value}>
      {children}
      <section className="toasts" aria-label="Notifications">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.tone}`} role={t.tone === "error" ? "alert" : "status"}>
            <div className="toast-text">
              {t.code ? <code className="toast-code">{t.code}</code> : null}
              <span>{t.message}</span>
            </div>
            <button type="button" className="btn btn-ghost btn-sm" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ✕
            </button>
          </div>
        ))}
      </section>
    </ToastContext.Provider>
  );
}

export function useToast(): ToastApi {
  const ctx = useContext(ToastContext);
  if (!ctx) throw new Error("useToast must be used inside <ToastProvider>");
  return ctx;
}
