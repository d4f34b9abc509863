/**
 * Stands in for `node:crypto` in the browser build. @kensa/contracts hashes canonical JSON for
 * bundle ids with it; the console imports the contracts' schemas and constants but never hashes,
 * so this only has to exist, and fails loudly if that ever changes.
 */
export function createHash(): never {
  throw new Error("node:crypto is not available in the browser");
}
