import { useEffect, useState } from "react";

/** "12 s ago" that ticks; the full timestamp is in the tooltip and the <time> element. */
export function TimeAgo({ iso }: { iso: string | null | undefined }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);
  if (!iso) return <span className="muted">never</span>;
  const ms = Date.parse(iso);
  return (
    <time dateTime={iso} title={new Date(ms).toLocaleString()}>
      {formatAgo(now - ms)}
    </time>
  );
}

export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}
