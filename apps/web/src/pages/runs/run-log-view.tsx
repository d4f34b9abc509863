import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { isProgressLine } from "./parse-run-log";

/** lines shown at most; a long run's log is mostly step lines */
const TAIL = 400;

/**
 * The tail of a run's log. Follows new lines while scrolled to the bottom and stops following
 * as soon as the reader scrolls up, so a line being read does not run away.
 */
export function RunLogView({ text, live }: { text: string; live: boolean }) {
  const [showProgress, setShowProgress] = useState(false);
  const [follow, setFollow] = useState(true);
  const ref = useRef<HTMLPreElement>(null);
  const lines = useMemo(() => {
    const all = text.split("\n").filter((l) => l.length > 0);
    const kept = showProgress ? all : all.filter((l) => !isProgressLine(l));
    return { shown: kept.slice(-TAIL), hidden: Math.max(0, kept.length - TAIL), total: all.length };
  }, [text, showProgress]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll again whenever lines change
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [lines, follow]);

  useEffect(() => {
    if (!live) setFollow(true);
  }, [live]);

  return (
    <div className="stack">
      <div className="row">
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Follow the end
        </label>
        <label className="check">
          <input type="checkbox" checked={showProgress} onChange={(e) => setShowProgress(e.target.checked)} />
          Show progress lines (JSON)
        </label>
        <span className="muted">
          {lines.total} line(s){lines.hidden ? `, the last ${TAIL} shown` : ""}
        </span>
      </div>
      <pre
        ref={ref}
        className="run-log"
        data-testid="run-log"
        role="log"
        aria-label="Run log"
        // a trainer writes many lines a second: announcing each would drown a screen reader
        aria-live="off"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the log scrolls, so keyboard users must be able to focus it
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
          if (atEnd !== follow) setFollow(atEnd);
        }}
      >
        {lines.shown.join("\n") || "(empty)"}
      </pre>
    </div>
  );
}
