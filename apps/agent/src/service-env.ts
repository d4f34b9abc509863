/**
 * The environment the agent's service unit sets (docs/agent.md, "Running on a device"): read by
 * glibc and V8 at process start, so they cannot be set from inside the agent. BENCHMARKS.md
 * measures the agent's memory with and without them.
 */
export const agentServiceEnv = {
  /**
   * glibc mmaps allocations ≥ 16 KiB: freed, they go back to the OS at once instead of leaving
   * holes in the heap (ONNX Runtime's load-time buffers, decode and JSON buffers of every frame)
   */
  MALLOC_MMAP_THRESHOLD_: "16384",
  /** two malloc arenas instead of one per allocating thread */
  MALLOC_ARENA_MAX: "2",
  /** frames live in buffers outside the JS heap: a large nursery only holds garbage longer */
  NODE_OPTIONS: "--max-semi-space-size=2",
} as const;
