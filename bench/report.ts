/** Shapes and rendering shared by the bench sections. */
export interface Row {
  name: string;
  unit: string;
  p50: number;
  p95: number;
  n: number;
  reference?: { value: number; source: string };
  notes: string;
}

export interface Section {
  id: string;
  title: string;
  /** how to re-run only this section */
  command: string;
  /** Markdown body written under the title */
  markdown: string;
  data: unknown;
  date?: string;
  /** 1-min load average when the section started: other work on the machine skews figures */
  load?: number;
  /** the CPU it ran on: machines of one kind differ (sections kept from older runs keep theirs) */
  cpu?: string;
}

const round = (x: number) => Math.round(x * 100) / 100;

/** A Markdown table of latency-style rows, with the ratio to each row's reference (reference ÷ ours). */
export function rowsTable(rows: Row[]): string {
  const lines = rows.map((r) => {
    const ref = r.reference
      ? `${r.reference.value} ${r.unit} (${r.reference.source}); ${round(r.reference.value / r.p50)}× faster`
      : "—";
    return `| ${r.name} | ${r.p50} ${r.unit} | ${r.p95} ${r.unit} | ${r.n} | ${ref} | ${r.notes} |`;
  });
  return ["| measure | p50 | p95 | n | reference | notes |", "|---|---|---|---|---|---|", ...lines].join("\n");
}

export function table(head: string[], rows: Array<Array<string | number>>): string {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}
