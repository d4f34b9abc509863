import { type Incident, incidentRoutes } from "@kensa/contracts";
import { useState } from "react";
import { Link } from "react-router-dom";
import { hub } from "../../api/client";
import { TimeAgo } from "../../ui";
import { pct, StatusBadge } from "./incident-status";

/** One incident in the list: a thumbnail and the facts a person triages by, one tap to open. */
export function IncidentCard({ incident, fresh }: { incident: Incident; fresh: boolean }) {
  const [broken, setBroken] = useState(false);
  const hasMedia = incident.mediaSha256 !== null && !broken;
  return (
    <li className={fresh ? "incident-card fresh" : "incident-card"} data-incident-id={incident.id}>
      <Link to={`/incidents/${incident.id}`} className="incident-link">
        <div className="thumb" aria-hidden="true">
          {hasMedia ? (
            <img
              // the sha in the URL makes the browser refetch once media arrives after the incident
              src={hub.url(incidentRoutes.getMedia, {
                params: { id: incident.id },
                query: { v: incident.mediaSha256 },
              })}
              alt=""
              loading="lazy"
              onError={() => setBroken(true)}
            />
          ) : (
            <span className="thumb-none">no frame yet</span>
          )}
        </div>
        <div className="incident-main">
          <div className="incident-title">
            <strong>{incident.label}</strong> <span className="muted">{pct(incident.score)}</span>
          </div>
          <div className="incident-meta">
            <span>{incident.deviceId}</span>
            {incident.site ? <span className="incident-site"> · site {incident.site.id}</span> : null} ·{" "}
            <TimeAgo iso={incident.createdAt} />
          </div>
        </div>
        <div className="incident-side">
          <StatusBadge status={incident.status} />
        </div>
      </Link>
    </li>
  );
}
