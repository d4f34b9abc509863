import { type Static, Type } from "@sinclair/typebox";

const Sha256 = Type.String({ pattern: "^[a-f0-9]{64}$" });
const Action = Type.Union(
  [
    Type.Literal("reported"),
    Type.Literal("quarantined"),
    Type.Literal("marked"),
    Type.Literal("deleted"),
    Type.Literal("removed"),
    Type.Literal("kept"),
    Type.Literal("cleared"),
  ],
  { description: "what fsck did: reported (nothing changed), quarantined, marked, deleted, removed, kept, cleared" },
);

/** What `kensa hub fsck` (and `POST /api/v1/system/fsck`) found in the blob store and did. */
export const FsckReport = Type.Object({
  repair: Type.Boolean(),
  /** blobs hashed, and their bytes */
  checked: Type.Object({ blobs: Type.Integer(), bytes: Type.Integer() }),
  /** content that does not match its sha256 */
  corrupt: Type.Array(Type.Object({ sha256: Sha256, size: Type.Integer(), action: Action })),
  /** named by the metadata (`table.column`), absent from the store */
  missing: Type.Array(Type.Object({ sha256: Sha256, referencedBy: Type.Array(Type.String()), action: Action })),
  /** stored and named by nothing; `kept` while younger than the orphan grace */
  orphanBlobs: Type.Array(
    Type.Object({ sha256: Sha256, size: Type.Integer(), storedAt: Type.String(), action: Action }),
  ),
  /** media whose event never arrived within the grace (see docs/delivery.md) */
  orphanEarlyMedia: Type.Array(
    Type.Object({ eventId: Type.String(), deviceId: Type.String(), kind: Type.String(), action: Action }),
  ),
  /** recorded problems that are gone (a re-upload healed the blob) */
  resolvedProblems: Type.Array(Type.Object({ sha256: Sha256, problem: Type.String(), action: Action })),
  /** blobs already in quarantine */
  quarantined: Type.Integer(),
});
export type FsckReport = Static<typeof FsckReport>;
export type FsckAction = FsckReport["corrupt"][number]["action"];

export const FsckRequest = Type.Object(
  {
    /** fix what is found; otherwise only report */
    repair: Type.Boolean({ default: false }),
    /** hours an unreferenced blob is kept (an upload in flight writes its blob before its row) */
    orphanGraceHours: Type.Number({ minimum: 0, maximum: 87_600, default: 168 }),
  },
  { additionalProperties: false },
);
export type FsckRequest = Static<typeof FsckRequest>;
