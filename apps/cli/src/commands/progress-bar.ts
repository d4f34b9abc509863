/**
 * A one-line progress bar on stderr, redrawn at most every 100 ms. Silent when stderr is not
 * a terminal (CI logs, pipes), so scripts get only the final summary on stdout.
 */
export class ProgressBar {
  #label: string;
  #unit: "items" | "bytes";
  #enabled: boolean;
  #last = 0;
  #started = Date.now();
  #drawn = false;

  constructor(label: string, unit: "items" | "bytes" = "items", stream: NodeJS.WriteStream = process.stderr) {
    this.#label = label;
    this.#unit = unit;
    this.#enabled = stream.isTTY === true;
  }

  /** `total` 0 or unknown draws a counter without a bar */
  update(done: number, total = 0, force = false): void {
    if (!this.#enabled) return;
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const width = 30;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const bar =
      total > 0
        ? `[${"#".repeat(Math.round(frac * width)).padEnd(width, ".")}] ${(frac * 100).toFixed(0).padStart(3)}% `
        : "";
    const secs = (now - this.#started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const count =
      this.#unit === "bytes"
        ? `${mb(done)}${total ? `/${mb(total)}` : ""} MB ${mb(rate)} MB/s`
        : `${done}${total ? `/${total}` : ""} ${rate.toFixed(0)}/s`;
    process.stderr.write(`\r\x1b[2K${this.#label} ${bar}${count}`);
    this.#drawn = true;
  }

  done(): void {
    if (this.#enabled && this.#drawn) process.stderr.write("\n");
    this.#drawn = false;
  }
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
