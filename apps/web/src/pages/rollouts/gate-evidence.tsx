import type { GateResult, RolloutWave } from "@kensa/contracts";
import { Badge, TimeAgo } from "../../ui";
import { formatPValue, formatThreshold, GATE_FIGURES, GATE_LABEL, GATE_TONE } from "./rollout-format";

type Group = GateResult["wave"];

/**
 * Each gate of one wave with the evidence it was judged on: the wave's figures beside the
 * control group's (devices still on the champion, same window), the threshold, the p-value of
 * the rate test and the hub's words. One card per gate, so it reads on a phone.
 */
export function GateEvidence({ wave }: { wave: RolloutWave }) {
  if (wave.gates.length === 0) {
    return (
      <p className="muted" role="status">
        {wave.state === "pending"
          ? "This wave has not started: its gates are judged once it runs."
          : "No evaluation yet: the hub looks at the gates every few seconds while the wave bakes."}
      </p>
    );
  }
  const breached = wave.gates.filter((g) => g.status === "breach").length;
  const waiting = wave.gates.filter((g) => g.status === "waiting").length;
  return (
    <div className="stack">
      <p className="muted" data-testid="gate-summary">
        {wave.gates.length - breached - waiting} passed · {breached} breached · {waiting} waiting for evidence
        {wave.evaluatedAt ? (
          <>
            {" "}
            · judged <TimeAgo iso={wave.evaluatedAt} />
          </>
        ) : null}
      </p>
      <ul className="gate-list" aria-label={`Gates of wave ${wave.index + 1}`}>
        {wave.gates.map((g) => (
          <li key={g.gate} className={`gate-card gate-${g.status}`} data-gate={g.gate} data-status={g.status}>
            <div className="gate-head">
              <strong>{GATE_LABEL[g.gate]}</strong>
              <Badge tone={GATE_TONE[g.status]}>{g.status}</Badge>
            </div>
            <p className="gate-detail">{g.detail}</p>
            <div className="gate-groups">
              <GroupFigures title="Wave" gate={g.gate} group={g.wave} />
              {g.control ? (
                <GroupFigures title="Control" gate={g.gate} group={g.control} />
              ) : g.gate === "latency" || g.gate === "frame_rate" ? (
                <p className="muted gate-own">Each device against its own figures before the wave.</p>
              ) : null}
            </div>
            <dl className="gate-facts">
              <div>
                <dt>Threshold</dt>
                <dd>{formatThreshold(g.gate, g.threshold)}</dd>
              </div>
              {g.pValue !== undefined ? (
                <div>
                  <dt>p-value</dt>
                  <dd className="mono">{formatPValue(g.pValue)}</dd>
                </div>
              ) : null}
            </dl>
          </li>
        ))}
      </ul>
    </div>
  );
}

function GroupFigures({ title, gate, group }: { title: string; gate: GateResult["gate"]; group: Group }) {
  const f = GATE_FIGURES[gate];
  const rows: Array<[string, string]> = [
    ["Devices", group.devices.toLocaleString()],
    ["Frames", group.frames.toLocaleString()],
    [f.count, group.count.toLocaleString()],
    [f.value, group.value === null ? "—" : f.format(group.value)],
  ];
  return (
    <dl className="gate-group" aria-label={title}>
      <div className="gate-group-title">{title}</div>
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
