import { type Incident, incidentRoutes, projectRoutes, registryRoutes } from "@kensa/contracts";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { hub } from "../../api/client";
import { useQuery } from "../../api/use-query";
import { useCan } from "../../auth";
import { Button, Card, ErrorState, Facts, Loading, Page, TimeAgo } from "../../ui";
import { modelLabel } from "../registry/model-label";
import { FrameOverlay } from "./frame-overlay";
import { IncidentClip } from "./incident-clip";
import { pct, StatusBadge } from "./incident-status";
import { RelabelDialog } from "./relabel-dialog";
import { ResultScores } from "./result-scores";
import { PENDING_VERDICT_ID, useIncidentReview } from "./use-incident-review";
import { useIncidentStream } from "./use-incident-stream";
import { VerdictHistory } from "./verdict-history";

/** ms between checks for the frame while the agent has not uploaded it yet */
const MEDIA_POLL_MS = 3000;

export function IncidentPage() {
  const { id = "" } = useParams();
  const q = useQuery(incidentRoutes.get, { params: { id } });
  const incident = q.data;
  const { setData, reload } = q;
  const review = useIncidentReview(incident, setData);
  const shown = review.shown;

  // stay current: the frame arrives after the incident, and colleagues decide too
  useIncidentStream(
    { projectId: incident?.projectId },
    ({ incident: i }) => {
      if (i.id === id && !review.busy) setData(i);
    },
    reload,
  );
  const waitingForMedia = Boolean(incident && !incident.mediaSha256);
  useEffect(() => {
    if (!waitingForMedia) return;
    const t = setInterval(reload, MEDIA_POLL_MS);
    return () => clearInterval(t);
  }, [waitingForMedia, reload]);

  if (q.error && !incident)
    return (
      <Page title="Incident" back={<BackLink />}>
        {<ErrorState error={q.error} onRetry={reload} />}
      </Page>
    );
  if (!shown)
    return (
      <Page title="Incident" back={<BackLink />}>
        {<Loading />}
      </Page>
    );
  return <IncidentView incident={shown} review={review} />;
}

function BackLink() {
  return <Link to="/incidents">← Incidents</Link>;
}

function IncidentView({ incident, review }: { incident: Incident; review: ReturnType<typeof useIncidentReview> }) {
  const canReview = useCan("incidents:review");
  const canModels = useCan("models:read");
  const canDevices = useCan("devices:read");
  const [relabeling, setRelabeling] = useState(false);
  const event = useQuery(incidentRoutes.getEvent, { params: { id: incident.eventId } });
  const project = useQuery(projectRoutes.get, { params: { id: incident.projectId } });
  const model = useQuery(registryRoutes.get, { params: { id: incident.modelVersionId } }, { enabled: canModels });
  const decided = incident.verdicts.length > 0;

  return (
    <Page
      title={`${incident.label} · ${pct(incident.score)}`}
      subtitle={
        <>
          <StatusBadge status={incident.status} /> on {incident.deviceId} · <TimeAgo iso={incident.createdAt} />
        </>
      }
      back={<BackLink />}
    >
      <div className="grid-2">
        <div className="stack">
          <Card>
            {incident.mediaSha256 ? (
              <FrameOverlay
                src={hub.url(incidentRoutes.getMedia, {
                  params: { id: incident.id },
                  query: { v: incident.mediaSha256 },
                })}
                result={event.data?.result}
                alt={`Frame from ${incident.deviceId} at ${new Date(incident.createdAt).toLocaleString()}`}
              />
            ) : (
              <div className="frame-missing">The device has not uploaded this frame yet.</div>
            )}
          </Card>
          {incident.clip ? <IncidentClip incident={incident} clip={incident.clip} /> : null}
          {canReview ? (
            <section className="review-bar" aria-label="Review">
              <h2 className="visually-hidden">Review</h2>
              {decided ? <p className="muted review-hint">Already decided; a new verdict corrects it.</p> : null}
              <div className="review-buttons">
                {incident.status === "open" ? (
                  <Button size="lg" onClick={review.acknowledge} disabled={review.busy}>
                    Acknowledge
                  </Button>
                ) : null}
                {/* confirming a defect is the main answer, not a destructive one; dismissing it is not a "success" */}
                <Button size="lg" variant="primary" onClick={() => review.decide("confirmed")} disabled={review.busy}>
                  Confirm
                </Button>
                <Button size="lg" onClick={() => review.decide("false_alarm")} disabled={review.busy}>
                  False alarm
                </Button>
                <Button size="lg" onClick={() => setRelabeling(true)} disabled={review.busy || !project.data}>
                  Relabel
                </Button>
              </div>
            </section>
          ) : null}
        </div>
        <div className="stack">
          <Card title="Details">
            <Facts
              items={[
                ["Label", incident.label],
                ["Score", pct(incident.score)],
                ["Rule", incident.rule],
                [
                  "Device",
                  canDevices ? (
                    <Link key="device" to={`/fleet/${incident.deviceId}`}>
                      {incident.deviceId}
                    </Link>
                  ) : (
                    incident.deviceId
                  ),
                ],
                ["Project", project.data?.name ?? incident.projectId],
                [
                  "Model",
                  model.data ? (
                    modelLabel(model.data)
                  ) : (
                    <span key="model" className="mono">
                      {incident.modelVersionId}
                    </span>
                  ),
                ],
                [
                  "Bundle",
                  <span className="mono" title={incident.bundleSha256} key="b">
                    {incident.bundleSha256.slice(0, 12)}
                  </span>,
                ],
                ["Time", new Date(incident.createdAt).toLocaleString()],
              ]}
            />
          </Card>
          {event.data ? (
            <Card title="Scores">
              <ResultScores result={event.data.result} />
            </Card>
          ) : null}
          <Card title="Verdicts">
            <VerdictHistory verdicts={incident.verdicts} pendingId={PENDING_VERDICT_ID} />
          </Card>
        </div>
      </div>
      <RelabelDialog
        open={relabeling}
        labels={project.data?.labels ?? []}
        current={incident.label}
        onClose={() => setRelabeling(false)}
        onSubmit={(labels, note) => review.decide("relabel", labels, note || undefined)}
      />
    </Page>
  );
}
