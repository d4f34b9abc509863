export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels?: Labels;
  value: number;
}

export interface HistogramSeries {
  labels?: Labels;
  /** upper bounds, ascending, without +Inf */
  bounds: readonly number[];
  /** per-bucket counts (not cumulative), one more than `bounds` for +Inf */
  counts: readonly number[];
  sum: number;
}

/**
 * Writes the Prometheus text exposition format (version 0.0.4) by hand: the agent exposes a
 * few dozen series, which does not justify a metrics library on the device.
 */
export class MetricsText {
  readonly #lines: string[] = [];

  counter(name: string, help: string, samples: readonly Sample[]): this {
    return this.#family(name, "counter", help, samples);
  }

  gauge(name: string, help: string, samples: readonly Sample[]): this {
    return this.#family(name, "gauge", help, samples);
  }

  histogram(name: string, help: string, series: readonly HistogramSeries[]): this {
    this.#head(name, "histogram", help);
    for (const s of series) {
      let cumulative = 0;
      s.bounds.forEach((le, i) => {
        cumulative += s.counts[i] ?? 0;
        this.#lines.push(`${name}_bucket${labelText({ ...s.labels, le: formatNumber(le) })} ${cumulative}`);
      });
      cumulative += s.counts[s.bounds.length] ?? 0;
      this.#lines.push(`${name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${cumulative}`);
      this.#lines.push(`${name}_sum${labelText(s.labels)} ${formatNumber(s.sum)}`);
      this.#lines.push(`${name}_count${labelText(s.labels)} ${cumulative}`);
    }
    return this;
  }

  text(): string {
    return `${this.#lines.join("\n")}\n`;
  }

  #family(name: string, type: string, help: string, samples: readonly Sample[]): this {
    this.#head(name, type, help);
    for (const s of samples) this.#lines.push(`${name}${labelText(s.labels)} ${formatNumber(s.value)}`);
    return this;
  }

  #head(name: string, type: string, help: string): void {
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    this.#lines.push(`# TYPE ${name} ${type}`);
  }
}

function labelText(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return parts.length > 0 ? `{${parts.join(",")}}` : "";
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}
