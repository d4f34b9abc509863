import type { KeyObject } from "node:crypto";
import type { AuditChainFault, AuditVerifyReport } from "@kensa/contracts";
import type { Kysely } from "kysely";
import { AUDIT_GENESIS_HASH, auditEntryHash } from "../db/audit-hash.js";
import type { HubDatabase } from "../db/schema.js";
import { type AnchorLine, type AuditAnchor, anchorSigned } from "./audit-anchor.js";

type Problem = NonNullable<AuditVerifyReport["problem"]>;

/** Rows read per query while walking the chain. */
const PAGE = 1000;

/**
 * Walks the audit chain in seq order and checks, for every entry, that no seq is missing, that
 * its hash matches its fields and that it names the previous entry's hash; then that the head
 * row and every anchor agree with what the table holds. Stops at the first broken place and
 * names it. Reads the database only.
 */
export async function verifyAuditChain(
  db: Kysely<HubDatabase>,
  anchorLog: { lines: AnchorLine[]; publicKey: KeyObject | null },
): Promise<AuditVerifyReport> {
  const anchors = new Map<number, AuditAnchor>();
  let signedAnchors = 0;
  let problem: Problem | null = null;
  let lastAnchor: AuditAnchor | null = null;
  for (const l of anchorLog.lines) {
    if ("invalid" in l) {
      problem ??= fault(0, "anchor-signature", `line ${l.line} of the anchor log is ${l.invalid}`);
      continue;
    }
    const a = l.anchor;
    if (anchorLog.publicKey) {
      if (anchorSigned(a, anchorLog.publicKey)) signedAnchors++;
      else {
        problem ??= fault(
          a.seq,
          "anchor-signature",
          `line ${l.line} of the anchor log (seq ${a.seq}, ${a.at}) is ${a.sig ? "not signed by the anchor key" : "unsigned"}`,
        );
      }
    }
    // several anchors may name one seq (replicas, restarts); any one that disagrees is a fault
    const seen = anchors.get(a.seq);
    if (seen && seen.hash !== a.hash) {
      problem ??= fault(a.seq, "anchor-mismatch", `two anchors name different hashes for entry ${a.seq}`);
    }
    anchors.set(a.seq, a);
    if (!lastAnchor || a.seq > lastAnchor.seq) lastAnchor = a;
  }

  let entries = 0;
  let lastSeq = 0;
  let lastHash = AUDIT_GENESIS_HASH;
  walk: for (;;) {
    const rows = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("seq", ">", lastSeq)
      .orderBy("seq")
      .limit(PAGE)
      .execute();
    for (const r of rows) {
      const seq = Number(r.seq);
      const found = chainFault(r, seq, lastSeq, lastHash, anchors.get(seq));
      if (found) {
        problem = found;
        break walk;
      }
      entries++;
      lastSeq = seq;
      lastHash = r.hash;
    }
    if (rows.length < PAGE) break;
  }

  if (!problem || problem.fault === "anchor-signature") {
    problem = (await tailFault(db, lastSeq, lastHash, lastAnchor)) ?? problem;
  }
  return {
    ok: problem === null,
    entries,
    lastSeq,
    lastHash,
    anchors: anchors.size,
    signedAnchors,
    lastAnchor: lastAnchor ? { seq: lastAnchor.seq, at: lastAnchor.at } : null,
    problem,
  };
}

function chainFault(
  r: HubDatabase["audit_log"],
  seq: number,
  prevSeq: number,
  prevHash: string,
  anchor: AuditAnchor | undefined,
): Problem | null {
  if (seq > prevSeq + 1) {
    const gap = seq - prevSeq - 1;
    return fault(
      prevSeq + 1,
      "deleted",
      gap === 1
        ? `entry ${prevSeq + 1} is missing (entry ${seq} follows entry ${prevSeq})`
        : `entries ${prevSeq + 1}–${seq - 1} are missing (${gap} entries; entry ${seq} follows entry ${prevSeq})`,
    );
  }
  if (auditEntryHash({ ...r, seq, prev_hash: r.prev_hash }) !== r.hash) {
    return fault(seq, "modified", `entry ${seq} (${r.id}) does not match its hash: a field was changed`);
  }
  if (r.prev_hash !== prevHash) {
    return fault(
      seq,
      "reordered",
      `entry ${seq} (${r.id}) does not name entry ${prevSeq}'s hash: entries were reordered, or one was rewritten with a new hash`,
    );
  }
  if (anchor && anchor.hash !== r.hash) {
    return fault(
      seq,
      "anchor-mismatch",
      `entry ${seq} (${r.id}) differs from the anchor of ${anchor.at}: the chain was rewritten up to here`,
    );
  }
  return null;
}

/** After an intact walk: the head row, the newest anchor and unchained rows against the last entry. */
async function tailFault(
  db: Kysely<HubDatabase>,
  lastSeq: number,
  lastHash: string,
  lastAnchor: AuditAnchor | null,
): Promise<Problem | null> {
  const head = await db.selectFrom("audit_head").selectAll().where("name", "=", "audit").executeTakeFirst();
  if (!head) return fault(lastSeq + 1, "truncated", "the chain's head row is missing");
  const headSeq = Number(head.seq);
  if (headSeq > lastSeq) {
    return fault(
      lastSeq + 1,
      "truncated",
      `the head says the chain ends at entry ${headSeq}; entries ${lastSeq + 1}–${headSeq} are missing`,
    );
  }
  if (headSeq < lastSeq) {
    return fault(headSeq + 1, "inserted", `entries after ${headSeq}, where the head says the chain ends, were added`);
  }
  if (head.hash !== lastHash) {
    return fault(lastSeq, "modified", `entry ${lastSeq}'s hash differs from the head row's`);
  }
  if (lastAnchor && lastAnchor.seq > lastSeq) {
    return fault(
      lastSeq + 1,
      "truncated",
      `the anchor of ${lastAnchor.at} says the chain reached entry ${lastAnchor.seq}; entries ${lastSeq + 1}–${lastAnchor.seq} are missing`,
    );
  }
  const loose = await db.selectFrom("audit_log").select("id").where("seq", "is", null).executeTakeFirst();
  if (loose) return fault(lastSeq + 1, "inserted", `entry ${loose.id} was added outside the chain (it has no seq)`);
  return null;
}

function fault(seq: number, kind: AuditChainFault, message: string): Problem {
  return { seq, fault: kind, message };
}
