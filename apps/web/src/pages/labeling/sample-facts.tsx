import type { Sample } from "@kensa/contracts";
import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { Facts, TimeAgo } from "../../ui";

/** Where a sample came from: the facts an auditor walks back through. */
export function SampleFacts({ sample }: { sample: Sample }) {
  const p = sample.provenance;
  const items: Array<[string, ReactNode]> = [["source", p.source]];
  if (p.incidentId)
    items.push([
      "incident",
      <Link key="i" to={`/incidents/${p.incidentId}`}>
        {p.incidentId}
      </Link>,
    ]);
  if (p.deviceId)
    items.push([
      "device",
      <Link key="d" to={`/fleet/${p.deviceId}`}>
        {p.deviceId}
      </Link>,
    ]);
  if (p.reason) items.push(["reason", p.reason]);
  if (p.prediction) items.push(["model said", `${p.prediction.label} (${p.prediction.score.toFixed(2)})`]);
  if (p.capturedAt) items.push(["captured", <TimeAgo key="c" iso={p.capturedAt} />]);
  if (p.item)
    items.push([
      "file",
      <span key="f" className="mono">
        {p.item}
      </span>,
    ]);
  if (sample.image) items.push(["image", `${sample.image.width}×${sample.image.height} ${sample.image.format}`]);
  items.push(["added", <TimeAgo key="a" iso={sample.createdAt} />]);
  return <Facts items={items} />;
}
