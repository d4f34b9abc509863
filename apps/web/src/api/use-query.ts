import type { ParamsOf, QueryOf, ReplyOf, RouteSpec } from "@kensa/contracts";
import { type Dispatch, type SetStateAction, useCallback, useEffect, useRef, useState } from "react";
import { hub } from "./client";

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

/** What a route query asks: its path parameters and query. */
export interface RouteInput<R extends RouteSpec> {
  params?: ParamsOf<R>;
  query?: Partial<QueryOf<R>>;
}

/**
 * Calls a GET route of a contract's table and keeps the reply; refetches when the parameters
 * or query change. Keeps the previous data while refetching so polled lists do not flash.
 */
export function useQuery<R extends RouteSpec>(
  spec: R,
  input?: RouteInput<R>,
  opts: QueryOptions = {},
): QueryState<ReplyOf<R>> {
  type T = ReplyOf<R>;
  const { intervalMs, enabled = true } = opts;
  const path = spec.path;
  const query = input?.query;
  const params = input?.params;
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(enabled);
  const [tick, setTick] = useState(0);
  const key = `${path}?${JSON.stringify(params ?? {})}${JSON.stringify(query ?? {})}`;
  const specRef = useRef(spec);
  specRef.current = spec;
  const paramsRef = useRef(params);
  paramsRef.current = params;
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
    // the route's input type is checked at the call site; here every route is one shape
    hub
      .call(specRef.current, { params: paramsRef.current, query: queryRef.current, signal: ctrl.signal } as never)
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
