import { type Dispatch, type SetStateAction, useCallback, useEffect, useRef, useState } from "react";
import { type Query, request } from "./client";

export interface QueryState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** fetches again now */
  reload: () => void;
  /** replaces the data locally (optimistic updates) */
  setData: Dispatch<SetStateAction<T | undefined>>;
}

export interface QueryOptions {
  /** polls every so many ms while mounted and the tab is visible */
  intervalMs?: number;
  /** skips the request (e.g. no project chosen yet) */
  enabled?: boolean;
}

/**
 * GETs `path` and keeps the reply; refetches when the path or query change. Keeps the previous
 * data while refetching so polled lists do not flash.
 */
export function useQuery<T>(path: string, query?: Query, opts: QueryOptions = {}): QueryState<T> {
  const { intervalMs, enabled = true } = opts;
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(enabled);
  const [tick, setTick] = useState(0);
  const key = `${path}?${JSON.stringify(query ?? {})}`;
  const queryRef = useRef(query);
  queryRef.current = query;

  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` stands for path+query; `tick` forces a reload
  useEffect(() => {
    if (!enabled) {
      setLoading(false);
      return;
    }
    const ctrl = new AbortController();
    setLoading(true);
    request<T>(path, { query: queryRef.current, signal: ctrl.signal })
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((err: unknown) => {
        if (!ctrl.signal.aborted) setError(err);
      })
      .finally(() => {
        if (!ctrl.signal.aborted) setLoading(false);
      });
    return () => ctrl.abort();
  }, [key, enabled, tick]);

  useEffect(() => {
    if (!intervalMs || !enabled) return;
    const t = setInterval(() => {
      if (document.visibilityState === "visible") setTick((n) => n + 1);
    }, intervalMs);
    return () => clearInterval(t);
  }, [intervalMs, enabled]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload, setData };
}
