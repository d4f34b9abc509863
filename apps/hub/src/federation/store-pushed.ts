import type { ErrorCode, PushReply } from "@kensa/contracts";

/**
 * Stores what a site pushed, one item at a time and never thrown half-way: `store` answers
 * whether the item changed a row; one that changed none is a duplicate when central `knows` it
 * (sent twice, or older than what central holds), else it is refused with `unknown`'s reason.
 */
export async function storePushed<T extends { id: string }>(
  items: readonly T[],
  o: {
    store(item: T): Promise<boolean>;
    knows(item: T): Promise<boolean>;
    unknown(item: T): { code: ErrorCode; message: string };
  },
): Promise<PushReply> {
  const reply: PushReply = { ok: 0, duplicates: 0, failed: [] };
  for (const item of items) {
    try {
      if (await o.store(item)) reply.ok++;
      else if (await o.knows(item)) reply.duplicates++;
      else reply.failed.push({ item: item.id, ...o.unknown(item) });
    } catch (err) {
      reply.failed.push({ item: item.id, code: "KENSA_ERR_INTERNAL", message: (err as Error).message });
    }
  }
  return reply;
}
