import type { Rollout, RolloutWave } from "@kensa/contracts";
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { Badge, TimeAgo } from "../../ui";
import { durationText, plural, WAVE_TONE } from "./rollout-format";

/**
 * The waves in order, each with its devices, state, times and how far its bake has gone; a
 * wave is a button that shows its gates' evidence below (the current wave's by default).
 */
export function WaveTimeline({
  rollout,
  selected,
  onSelect,
}: {
  rollout: Rollout;
  selected: number;
  onSelect(index: number): void;
}) {
  const now = useNow(rollout.waves.some((w) => w.state === "baking"));
  return (
    <ol className="wave-timeline" aria-label="Waves">
      {rollout.waves.map((w) => (
        <li key={w.index} data-wave={w.index} data-state={w.state}>
          <button
            type="button"
            className={w.index === selected ? "wave-item on" : "wave-item"}
            aria-pressed={w.index === selected}
            onClick={() => onSelect(w.index)}
          >
            <span className="wave-head">
              <strong>{w.index === 0 ? "Canary" : `Wave ${w.index + 1}`}</strong>
              <Badge tone={WAVE_TONE[w.state]}>{w.state.replace("_", " ")}</Badge>
              {w.index === rollout.currentWave ? <span className="muted">current</span> : null}
            </span>
            <span className="muted">
              {plural(w.deviceIds.length, "device")}
              {w.startedAt ? (
                <>
                  {" "}
                  · started <TimeAgo iso={w.startedAt} />
                </>
              ) : null}
              {w.endedAt ? (
                <>
                  {" "}
                  · ended <TimeAgo iso={w.endedAt} />
                </>
              ) : null}
            </span>
            {w.state === "baking" ? (
              <BakeProgress wave={w} bakeSeconds={rollout.strategy.bakeSeconds} now={now} />
            ) : null}
          </button>
          <details className="wave-devices">
            <summary>Devices</summary>
            <ul>
              {w.deviceIds.map((id) => (
                <li key={id}>
                  <Link to={`/fleet/${id}`}>{id}</Link>
                </li>
              ))}
            </ul>
          </details>
        </li>
      ))}
    </ol>
  );
}

function BakeProgress({ wave, bakeSeconds, now }: { wave: RolloutWave; bakeSeconds: number; now: number }) {
  const elapsed = wave.startedAt ? Math.max(0, (now - Date.parse(wave.startedAt)) / 1000) : 0;
  const done = Math.min(elapsed, bakeSeconds);
  const pct = bakeSeconds > 0 ? (100 * done) / bakeSeconds : 100;
  // a baked wave still waits for its gates' minimum evidence: say so rather than show 100 % and nothing
  const text =
    elapsed >= bakeSeconds
      ? "baked; waiting for the gates' evidence"
      : `baking ${durationText(done)} of ${durationText(bakeSeconds)}`;
  return (
    <span className="wave-bake">
      <span
        className="progress"
        role="progressbar"
        aria-label={`Bake of wave ${wave.index + 1}`}
        aria-valuemin={0}
        aria-valuemax={bakeSeconds}
        aria-valuenow={Math.round(done)}
      >
        <span style={{ width: `${pct}%` }} />
      </span>
      <span className="muted">{text}</span>
    </span>
  );
}

/** ms since the epoch, ticking every second while `live` (a bake bar that moves between polls) */
function useNow(live: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [live]);
  return now;
}
