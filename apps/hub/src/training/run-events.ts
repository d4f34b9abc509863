import { EventEmitter } from "node:events";
import type { TrainingRun } from "@kensa/contracts";

type RunEventMap = { update: [run: TrainingRun] };

/**
 * Run changes as they are written (status, progress), for the SSE stream. In-process only:
 * the stream also re-reads the run now and then, so a run another hub trains still moves.
 */
export class RunEvents extends EventEmitter<RunEventMap> {
  constructor() {
    super();
    // one listener per open stream; many consoles may watch at once
    this.setMaxListeners(0);
  }
}
