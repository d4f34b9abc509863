import { type TrainingRun, trainingRoutes } from "@kensa/contracts";
import { useEffect, useState } from "react";
import { hub } from "../../api/client";

export const isActive = (r: TrainingRun | undefined) => r?.status === "queued" || r?.status === "running";

/** ms between polls when the event stream is unavailable */
const POLL_MS = 2000;

/**
 * A run kept current: the hub's Server-Sent Events stream (`/runs/:id/events`) while it is
 * open, polling when the stream fails (a proxy that buffers SSE, an older hub).
 */
export function useLiveRun(id: string): {
  run: TrainingRun | undefined;
  error: unknown;
  setRun(r: TrainingRun): void;
  live: "stream" | "poll" | "idle";
} {
  const [run, setRun] = useState<TrainingRun>();
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<"stream" | "poll" | "idle">("idle");
  const active = run === undefined || isActive(run);

  useEffect(() => {
    if (!active) {
      setLive("idle");
      return;
    }
    let closed = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fetchOnce = () =>
      hub
        .call(trainingRoutes.get, { params: { id } })
        .then((r) => {
          if (!closed) {
            setRun(r);
            setError(null);
          }
          return r;
        })
        .catch((err: unknown) => {
          if (!closed) setError(err);
          return undefined;
        });
    const poll = async () => {
      const r = await fetchOnce();
      if (!closed && (r === undefined || isActive(r))) timer = setTimeout(poll, POLL_MS);
    };
    void fetchOnce();
    const es = new EventSource(hub.url(trainingRoutes.events, { params: { id } }), { withCredentials: true });
    const onRun = (e: MessageEvent<string>) => {
      try {
        const r = JSON.parse(e.data) as TrainingRun;
        if (r && r.id === id) setRun(r);
      } catch {
        // a keep-alive or a message of another shape: ignore
      }
    };
    // the hub sends `run` on every change and `end` once the run finished, then closes
    es.addEventListener("run", onRun);
    es.addEventListener("end", (e: MessageEvent<string>) => {
      onRun(e);
      es.close();
    });
    es.onopen = () => setLive("stream");
    es.onerror = () => {
      // EventSource retries by itself; a stream refused outright (404, 401) ends in CLOSED
      if (es.readyState === EventSource.CLOSED && !closed) {
        setLive("poll");
        void poll();
      }
    };
    return () => {
      closed = true;
      es.close();
      if (timer) clearTimeout(timer);
    };
  }, [id, active]);

  return { run, error, setRun, live };
}

/** The run's log text, re-read every `ms` while `active`, once more when it stops. */
export function useRunLog(id: string, active: boolean, ms = 2000): { text: string; error: unknown } {
  const [text, setText] = useState("");
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let closed = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const t = await hub.call(trainingRoutes.log, { params: { id } });
        if (!closed) {
          setText(t);
          setError(null);
        }
      } catch (err) {
        if (!closed) setError(err);
      }
      if (!closed && active) timer = setTimeout(read, ms);
    };
    void read();
    return () => {
      closed = true;
      if (timer) clearTimeout(timer);
    };
  }, [id, active, ms]);
  return { text, error };
}
