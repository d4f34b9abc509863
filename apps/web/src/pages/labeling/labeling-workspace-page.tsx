import { datasetRoutes, type LabelingQueue, type Project, type SampleWithHistory } from "@kensa/contracts";
import { useCallback, useEffect, useMemo, useReducer, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { hub } from "../../api/client";
import { useQuery } from "../../api/use-query";
import { useCan, useUser } from "../../auth";
import { useProject } from "../../project";
import { Badge, Button, ErrorState, Loading, Page, useToast } from "../../ui";
import { ClassesPanel } from "./classes-panel";
import { encodeGreyPng } from "./grey-png";
import { LabelCanvas, type Tool } from "./label-canvas";
import {
  type Draft,
  type DraftObject,
  draftFromContent,
  draftKey,
  draftReducer,
  draftToContent,
  newObjectKey,
  resolveMasks,
} from "./label-draft";
import { LabelHistory } from "./label-history";
import { LabelToolbar } from "./label-toolbar";
import { cloneMask, emptyMask, fillPolygon, type MaskBitmap, type Point } from "./mask-bitmap";
import { ObjectList } from "./object-list";
import { SampleFacts } from "./sample-facts";
import { ShortcutHelp } from "./shortcut-help";
import { toolShortcuts, toolsFor, usesBrush } from "./task-tools";
import { rememberMask, useMaskCache } from "./use-mask-cache";
import { useShortcuts } from "./use-shortcuts";
import "./labeling.css";

/** Ordered sample ids of a project's labeling queue, for N / ← navigation. */
function queueOrder(q: LabelingQueue | undefined): string[] {
  return q ? q.groups.flatMap((g) => g.items.map((s) => s.id)) : [];
}

/** The labeling workspace: one sample, large, with the tools to label it and its history. */
export function LabelingWorkspacePage() {
  const { sampleId = "" } = useParams();
  const sampleQ = useQuery(datasetRoutes.getSample, { params: { id: sampleId } });
  const { projects } = useProject();
  const sample = sampleQ.data?.id === sampleId ? sampleQ.data : undefined;
  const project = sample ? projects.find((p) => p.id === sample.projectId) : undefined;

  if (sampleQ.error) return <ErrorState error={sampleQ.error} onRetry={sampleQ.reload} />;
  if (!sample || !project) return <Loading label="Loading the sample" />;
  return <Workspace key={sample.projectId} sample={sample} project={project} onSaved={sampleQ.setData} />;
}

function Workspace({
  sample,
  project,
  onSaved,
}: {
  sample: SampleWithHistory;
  project: Project;
  onSaved(s: SampleWithHistory): void;
}) {
  const user = useUser();
  const toast = useToast();
  const navigate = useNavigate();
  // the queue is read once per project: reviewed samples leave it, and N must still move on
  const queueQ = useQuery(datasetRoutes.labelingQueue, { params: { id: project.id }, query: { limit: 500 } });
  const order = useMemo(() => queueOrder(queueQ.data), [queueQ.data]);

  const [history, dispatch] = useReducer(draftReducer, undefined, () => ({
    past: [],
    present: draftFromContent(sample.label?.content),
    future: [],
  }));
  const [baseline, setBaseline] = useState(() => draftKey(draftFromContent(sample.label?.content), project.task));
  const labelId = sample.label?.id ?? null;
  // a new sample or a new current revision (after saving) starts a fresh draft
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed by the sample and its current revision
  useEffect(() => {
    const d = draftFromContent(sample.label?.content);
    dispatch({ type: "reset", draft: d });
    setBaseline(draftKey(d, project.task));
    setSelectedKey(null);
    setPolygon([]);
    setPreviewId(null);
    setSaveError(null);
  }, [sample.id, labelId]);

  const okLabels = project.okLabels;
  const firstFinding = project.labels.find((l) => !okLabels.includes(l)) ?? project.labels[0] ?? "";
  const tools = toolsFor(project.task);
  const [tool, setTool] = useState<Tool>(tools[0] ?? "box");
  const [brushSize, setBrushSize] = useState(() => Math.max(2, Math.round((sample.image?.width ?? 200) / 40)));
  const [selectedKey, setSelectedKey] = useState<string | null>(null);
  const [newLabel, setNewLabel] = useState(firstFinding);
  const [polygon, setPolygon] = useState<Point[]>([]);
  const [previewId, setPreviewId] = useState<string | null>(null);
  const [helpOpen, setHelpOpen] = useState(false);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);

  const draft = history.present;
  const dirty = draftKey(draft, project.task) !== baseline;
  const preview = previewId ? sample.revisions.find((r) => r.id === previewId) : undefined;
  const previewDraft = useMemo(() => (preview ? draftFromContent(preview.content) : null), [preview]);
  const shown: Draft = previewDraft ?? draft;
  const shas = useMemo(
    () => shown.objects.flatMap((o) => (o.mask?.sha && !o.mask.bitmap ? [o.mask.sha] : [])),
    [shown],
  );
  const { masks, failed } = useMaskCache(shas);
  const resolved = useMemo(() => resolveMasks(shown, masks), [shown, masks]);
  const selected = resolved.objects.find((o) => o.key === selectedKey) ?? null;
  const canLabel = useCan("samples:label");
  // people who may only look (auditors) get the same view without the editing
  const readOnly = !!previewDraft || saving || !canLabel;

  const addObject = (o: Omit<DraftObject, "key">) => {
    const key = newObjectKey();
    dispatch({ type: "add", object: { ...o, key } });
    setSelectedKey(key);
  };
  const onStroke = (key: string | null, bitmap: MaskBitmap) => {
    if (key) dispatch({ type: "setMask", key, bitmap });
    else addObject({ label: newLabel, mask: { sha: null, bitmap } });
  };
  const closePolygon = () => {
    if (polygon.length < 3 || !sample.image) return;
    const base = selected?.mask ? selected.mask.bitmap : null;
    if (selected?.mask && !base) {
      toast.info("The object's mask is still loading; try again in a moment");
      return;
    }
    const m = base ? cloneMask(base) : emptyMask(sample.image.width, sample.image.height);
    fillPolygon(m, polygon, 255);
    setPolygon([]);
    onStroke(selected?.key ?? null, m);
  };
  const relabel = (key: string, label: string) => {
    dispatch({ type: "relabel", key, label });
    setNewLabel(label);
  };
  const removeSelected = () => {
    if (!selectedKey || readOnly) return;
    dispatch({ type: "remove", key: selectedKey });
    setSelectedKey(null);
  };
  const pickClass = (i: number) => {
    const label = project.labels[i];
    if (!label || readOnly) return;
    if (selectedKey) relabel(selectedKey, label);
    else if (project.task === "classification" || project.task === "anomaly") {
      dispatch({ type: "toggleClass", label });
    } else setNewLabel(label);
  };

  const uploadMask = useCallback(
    async (m: MaskBitmap): Promise<string> => {
      const png = await encodeGreyPng(m.width, m.height, m.data);
      const form = new FormData();
      form.append("mask", new Blob([png as BlobPart], { type: "image/png" }), "mask.png");
      const out = await hub.call(datasetRoutes.uploadMask, { params: { id: sample.id }, upload: form });
      rememberMask(out.sha256, m);
      return out.sha256;
    },
    [sample.id],
  );

  const save = async (status: "labeled" | "reviewed") => {
    if (saving || previewDraft || !canLabel) return;
    if (status === "labeled" && !dirty && sample.status !== "unlabeled") {
      toast.info("Nothing changed since the last revision");
      return;
    }
    setSaving(true);
    setSaveError(null);
    try {
      // a review of an unchanged label sends no content: the hub copies the current one
      const sendContent = dirty || sample.status === "unlabeled";
      const content = sendContent ? await draftToContent(resolved, project.task, uploadMask) : undefined;
      const updated = await hub.call(datasetRoutes.addLabel, {
        params: { id: sample.id },
        body: { by: user.username, status, ...(content ? { content } : {}) },
      });
      onSaved(updated);
      toast.success(`Saved rev ${updated.label?.rev ?? "?"} (${status})`);
    } catch (err) {
      setSaveError(err);
      toast.error(err, "Saving the label failed");
    } finally {
      setSaving(false);
    }
  };

  const idx = order.indexOf(sample.id);
  const nextId = idx >= 0 ? order[idx + 1] : order.find((id) => id !== sample.id);
  const prevId = idx > 0 ? order[idx - 1] : undefined;
  const go = (id: string | undefined) => {
    if (!id) {
      toast.info("No more samples in the queue");
      return;
    }
    if (dirty && !window.confirm("Discard the unsaved changes to this label?")) return;
    navigate(`/labeling/${id}`);
  };

  const keys = {
    ...Object.fromEntries(Array.from({ length: 9 }, (_, i) => [String(i + 1), () => pickClass(i)])),
    ...toolShortcuts(tools, setTool),
    ...(usesBrush(tools)
      ? { "[": () => setBrushSize((s) => Math.max(1, s - 1)), "]": () => setBrushSize((s) => Math.min(200, s + 1)) }
      : {}),
    delete: removeSelected,
    backspace: removeSelected,
    escape: () => (polygon.length ? setPolygon([]) : setSelectedKey(null)),
    "mod+z": () => !readOnly && dispatch({ type: "undo" }),
    "mod+shift+z": () => !readOnly && dispatch({ type: "redo" }),
    "mod+y": () => !readOnly && dispatch({ type: "redo" }),
    enter: () => (polygon.length >= 3 ? closePolygon() : void save("labeled")),
    r: () => void save("reviewed"),
    n: () => go(nextId),
    arrowright: () => go(nextId),
    arrowleft: () => go(prevId),
    "?": () => setHelpOpen((o) => !o),
  };
  // while the help is open only `?` (and the dialog's own Escape) act
  useShortcuts(helpOpen ? { "?": keys["?"] } : keys);

  const img = sample.image;
  return (
    <Page
      title={`Label sample ${sample.id}`}
      subtitle={
        <>
          {project.name} · <Badge tone={sample.status === "reviewed" ? "success" : "info"}>{sample.status}</Badge>
          {dirty ? (
            <>
              {" "}
              <Badge tone="warning">unsaved changes</Badge>
            </>
          ) : null}
        </>
      }
      back={<Link to="/labeling">← Labeling queue</Link>}
      actions={
        <>
          <Button onClick={() => go(prevId)} disabled={!prevId} aria-keyshortcuts="ArrowLeft">
            ← Previous
          </Button>
          <Button onClick={() => go(nextId)} disabled={!nextId} aria-keyshortcuts="N ArrowRight">
            Next →
          </Button>
          {canLabel ? (
            <>
              <Button
                variant="primary"
                busy={saving}
                onClick={() => void save("labeled")}
                disabled={!!previewDraft}
                aria-keyshortcuts="Enter"
              >
                Save
              </Button>
              <Button
                variant="success"
                onClick={() => void save("reviewed")}
                disabled={saving || !!previewDraft}
                aria-keyshortcuts="R"
              >
                Mark reviewed
              </Button>
            </>
          ) : null}
          <Button
            variant="ghost"
            onClick={() => setHelpOpen(true)}
            aria-keyshortcuts="?"
            aria-label="Keyboard shortcuts"
          >
            ?
          </Button>
        </>
      }
    >
      {saveError ? <ErrorState error={saveError} /> : null}
      <div className="lab-workspace">
        <div className="lab-main">
          <LabelToolbar
            tools={tools}
            tool={tool}
            onTool={setTool}
            brushSize={brushSize}
            maxBrush={Math.max(20, Math.round((img?.width ?? 200) / 4))}
            onBrushSize={setBrushSize}
            canUndo={!readOnly && history.past.length > 0}
            canRedo={!readOnly && history.future.length > 0}
            onUndo={() => dispatch({ type: "undo" })}
            onRedo={() => dispatch({ type: "redo" })}
            polygonCorners={polygon.length}
          />
          {previewDraft && preview ? (
            <div className="lab-preview-banner" role="status">
              Previewing rev {preview.rev} by {preview.by}.{" "}
              <Button size="sm" onClick={() => setPreviewId(null)}>
                Back to editing
              </Button>{" "}
              <Button
                size="sm"
                onClick={() => {
                  dispatch({ type: "replace", draft: draftFromContent(preview.content) });
                  setPreviewId(null);
                }}
              >
                Edit from this revision
              </Button>
            </div>
          ) : null}
          {failed.size > 0 ? (
            <p className="state state-error" role="alert">
              {failed.size} mask(s) could not be loaded: {[...failed.values()][0]}
            </p>
          ) : null}
          {img ? (
            <LabelCanvas
              imageUrl={hub.url(datasetRoutes.sampleImage, { params: { id: sample.id } })}
              width={img.width}
              height={img.height}
              labels={project.labels}
              draft={resolved}
              readOnly={readOnly || tools.length === 0}
              tool={tool}
              brushSize={brushSize}
              selectedKey={previewDraft ? null : selectedKey}
              onSelect={setSelectedKey}
              newLabel={newLabel}
              onAddObject={addObject}
              onSetBox={(key, box) => dispatch({ type: "setBox", key, box })}
              onStroke={onStroke}
              polygon={polygon}
              onPolygon={setPolygon}
              onClosePolygon={closePolygon}
            />
          ) : (
            <p className="empty">
              The image has not arrived yet (the device uploads it after the event). Classes can be set already.
            </p>
          )}
        </div>
        <aside className="lab-side">
          <ClassesPanel
            project={project}
            draft={shown}
            newLabel={newLabel}
            readOnly={readOnly}
            drawing={tools.length > 0}
            onToggleClass={(label) => dispatch({ type: "toggleClass", label })}
            onAnomaly={(value) => dispatch({ type: "setAnomaly", value })}
            onDrawAs={(l) => (selectedKey ? relabel(selectedKey, l) : setNewLabel(l))}
          />
          <section className="card" aria-labelledby="lab-objects">
            <h2 id="lab-objects">Objects</h2>
            <ObjectList
              objects={resolved.objects}
              labels={project.labels}
              selectedKey={selectedKey}
              onSelect={setSelectedKey}
              onRelabel={relabel}
              onDelete={(key) => {
                dispatch({ type: "remove", key });
                if (key === selectedKey) setSelectedKey(null);
              }}
              readOnly={readOnly}
            />
          </section>
          <section className="card" aria-labelledby="lab-sample">
            <h2 id="lab-sample">Sample</h2>
            <SampleFacts sample={sample} />
          </section>
          <section className="card" aria-labelledby="lab-history">
            <h2 id="lab-history">History</h2>
            <LabelHistory
              revisions={sample.revisions}
              currentId={sample.label?.id ?? null}
              previewId={previewId}
              onPreview={setPreviewId}
            />
          </section>
        </aside>
      </div>
      <ShortcutHelp tools={tools} open={helpOpen} onClose={() => setHelpOpen(false)} />
    </Page>
  );
}
