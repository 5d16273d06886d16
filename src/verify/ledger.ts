import type { Envelope } from "../archive/envelope.js";
import { md5Hex } from "../archive/envelope.js";

/**
 * The ids seen in one hour partition and a digest of each one's content, to tell a duplicate (same id, same body
 * and MD5: a redelivery written again, counted) from a conflict (same id, different content: a problem). Every copy
 * of a message carries the same SentTimestamp, so copies land in the same hour: one ledger per hour, dropped when
 * the hour's objects are all read, bounds memory by the largest hour instead of the window.
 */

const DIGEST_SPACE = 2 ** 28;

/**
 * 28 bits of the content identity, packed with the index of the object that held the first copy (so a conflict can
 * name both objects) in one number per id: one Map entry per message.
 */
export function contentDigest(env: Envelope, md5Mismatch: boolean): number {
  const declared = typeof env.md5OfBody === "string" && /^[0-9a-fA-F]{32}$/.test(env.md5OfBody) ? env.md5OfBody.toLowerCase() : undefined;
  // The common case (declared MD5 matches the body) costs no hashing: the declared MD5 is the body's.
  if (declared && !md5Mismatch) return parseInt(declared.slice(0, 7), 16);
  const actual = md5Hex(env.body);
  if (!declared) return parseInt(actual.slice(0, 7), 16);
  // A body that does not match its declared MD5 differs from a copy whose body does.
  return (parseInt(declared.slice(0, 7), 16) ^ (parseInt(actual.slice(7, 14), 16) | 1)) % DIGEST_SPACE;
}

export type LedgerOutcome = { kind: "new" } | { kind: "duplicate" } | { kind: "conflict"; firstObject: number };

export class HourLedger {
  private readonly seen = new Map<string, number>();

  get distinct(): number {
    return this.seen.size;
  }

  has(messageId: string): boolean {
    return this.seen.has(messageId);
  }

  /** Each id with the index of the object holding its first copy. */
  *ids(): Generator<[string, number]> {
    for (const [id, v] of this.seen) yield [id, Math.floor(v / DIGEST_SPACE)];
  }

  add(messageId: string, digest: number, objectIndex: number): LedgerOutcome {
    const prior = this.seen.get(messageId);
    if (prior === undefined) {
      this.seen.set(messageId, objectIndex * DIGEST_SPACE + digest);
      return { kind: "new" };
    }
    if (prior % DIGEST_SPACE === digest) return { kind: "duplicate" };
    return { kind: "conflict", firstObject: Math.floor(prior / DIGEST_SPACE) };
  }
}
