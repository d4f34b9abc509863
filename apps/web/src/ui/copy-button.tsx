import { useState } from "react";
import { Button } from "./button";

/** Copies `text`; falls back to selecting a hidden textarea where the Clipboard API is refused (plain http). */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const ta = document.createElement("textarea");
      ta.value = text;
      document.body.append(ta);
      ta.select();
      document.execCommand("copy");
      ta.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <Button size="sm" onClick={copy} aria-label={`${label} to clipboard`}>
      {copied ? "Copied" : label}
    </Button>
  );
}

/** A read-only value with a copy button (secrets, commands). */
export function CopyField({ label, value, secret }: { label: string; value: string; secret?: boolean }) {
  return (
    <div className="copy-field">
      <span className="copy-label">{label}</span>
      <code className={secret ? "copy-value secret" : "copy-value"} data-testid={`copy-${label}`}>
        {value}
      </code>
      <CopyButton text={value} label={`Copy ${label.toLowerCase()}`} />
    </div>
  );
}
