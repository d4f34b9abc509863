/** Runs async tasks one at a time in submission order; a failed task does not stop later ones. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    this.#tail = result.catch(() => {});
    return result;
  }

  /** resolves when everything queued so far has finished */
  idle(): Promise<void> {
    return this.#tail.then(() => {});
  }
}
