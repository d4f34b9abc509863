import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CaptureQueue } from "../src/capture/capture-queue.js";
import { ClipStore } from "../src/clips/clip-store.js";
import type { AgentDatabase } from "../src/storage/agent-db.js";
import { MediaQueue } from "../src/storage/media-queue.js";
import { type EventDraft, Outbox } from "../src/storage/outbox.js";
import { spoolConformance } from "./helpers/spool-conformance.js";

const draft = (n: number): EventDraft => ({
  deviceId: "cam-1",
  pipeline: "default",
  sourceId: "line",
  ts: new Date(1_700_000_000_000 + n).toISOString(),
  bundle: { sha256: "a".repeat(64), modelVersionId: "m1" },
  frame: { width: 320, height: 240, meta: { n } },
  result: { task: "classification", label: "defect", score: 0.9, scores: {}, finding: true },
  latencyMs: { preprocess: 1, inference: 2, total: 3 },
});

/** The outbox of a harness: items wait for their event, which release() acknowledges. */
function eventsOf(db: AgentDatabase, dataDir: string) {
  const outbox = new Outbox(db, new MediaQueue(db, join(dataDir, "media")));
  const seqs = new Map<string, number>();
  return {
    outbox,
    add: async (n: number, image?: Uint8Array) => {
      const event = await outbox.append(draft(n), image);
      seqs.set(event.id, event.seq);
      return event;
    },
    release: (eventId: string) => outbox.remove([seqs.get(eventId) ?? -1]),
  };
}

for (const keepUploaded of [true, false]) {
  spoolConformance(`media (keepUploaded: ${keepUploaded})`, {
    keeps: { uploaded: keepUploaded, refused: false, missing: false },
    holdsBack: true,
    open: (db, dataDir) => {
      const spool = new MediaQueue(db, join(dataDir, "media"), { keepUploaded });
      const events = eventsOf(db, dataDir);
      return {
        spool,
        put: async (n, data) => {
          const event = await events.add(n, data);
          return { key: event.id, file: `${event.id}.jpg` };
        },
        release: events.release,
      };
    },
  });
}

spoolConformance("captures", {
  keeps: { uploaded: false, refused: false, missing: false },
  open: (db, dataDir) => {
    const spool = new CaptureQueue(db, join(dataDir, "captures"));
    return {
      spool,
      put: async (n, data) => {
        const id = `cap-${String(n).padStart(8, "0")}`;
        await spool.enqueue(id, "line", data, { reason: "random", ts: new Date().toISOString() });
        return { key: id, file: `${id}.jpg` };
      },
    };
  },
});

spoolConformance("clips", {
  keeps: { uploaded: true, refused: true, missing: false },
  holdsBack: true,
  writtenByWriter: true,
  open: (db, dataDir) => {
    const spool = new ClipStore(db, join(dataDir, "clips"));
    const events = eventsOf(db, dataDir);
    const item = (eventId: string) => ({ eventId, sourceId: "line", frames: 10, durationMs: 900 });
    return {
      spool,
      put: async (n, data) => {
        const event = await events.add(n);
        const file = `${event.id}.mp4`;
        await spool.save(file, item(event.id), (tmp) => writeFile(tmp, data));
        return { key: file, file };
      },
      release: (key) => events.release(key.replace(/\.mp4$/, "")),
      putFailing: async (n) => {
        const event = await events.add(n);
        return spool.save(`${event.id}.mp4`, item(event.id), async (tmp) => {
          await writeFile(tmp, "half a clip");
          throw new Error("ffmpeg exited 1");
        });
      },
    };
  },
});
