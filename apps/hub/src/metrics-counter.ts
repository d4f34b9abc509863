import { Counter, type Registry } from "prom-client";

type Values<L extends string> = Iterable<readonly [Partial<Record<L, string>>, number]>;

/**
 * A Prometheus counter whose values are read whole from their source at each scrape (counts a
 * service keeps since the process started). prom-client's counters only add, so the value is
 * reset and added again at collection; the exposition says `counter`, as a `_total` name must,
 * and `rate()` handles the reset when the hub restarts.
 */
export function readCounter<L extends string = never>(opts: {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registers: Registry[];
  read: () => Values<L> | number | Promise<Values<L> | number>;
}): Counter<L> {
  return new Counter<L>({
    name: opts.name,
    help: opts.help,
    labelNames: opts.labelNames ?? [],
    registers: opts.registers,
    async collect() {
      const values = await opts.read();
      this.reset();
      if (typeof values === "number") (this as Counter<string>).inc(values);
      else for (const [labels, n] of values) this.inc(labels, n);
    },
  });
}
