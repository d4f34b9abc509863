import { datasetRoutes, type LabelStatus, type Sample, type SampleSource } from "@kensa/contracts";
import { useCallback, useEffect, useRef, useState } from "react";
import { hub } from "../../api/client";

/** samples per request; the hub allows up to 1000 */
const PAGE = 200;

/**
 * A project's samples filtered by what the hub filters (status, source), fetched page by page
 * with the `after` cursor; `more()` appends the next page.
 */
export function useSamplePages(projectId: string, status: LabelStatus | "", source: SampleSource | "") {
  const [items, setItems] = useState<Sample[]>([]);
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const generation = useRef(0);

  const fetchPage = useCallback(
    async (after: string | undefined, gen: number) => {
      setLoading(true);
      try {
        const page = await hub.call(datasetRoutes.listSamples, {
          params: { id: projectId },
          query: { status: status || undefined, source: source || undefined, limit: PAGE, after },
        });
        if (gen !== generation.current) return; // the filters changed meanwhile
        setItems((prev) => (after ? [...prev, ...page.items] : page.items));
        setDone(page.items.length < PAGE);
        setError(null);
      } catch (err) {
        if (gen === generation.current) setError(err);
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [projectId, status, source],
  );

  useEffect(() => {
    const gen = ++generation.current;
    setItems([]);
    setDone(false);
    void fetchPage(undefined, gen);
  }, [fetchPage]);

  const more = useCallback(() => {
    const last = items.at(-1);
    if (!done && !loading && last) void fetchPage(last.id, generation.current);
  }, [items, done, loading, fetchPage]);
  const reload = useCallback(() => {
    const gen = ++generation.current;
    void fetchPage(undefined, gen);
  }, [fetchPage]);

  return { items, done, loading, error, more, reload };
}
