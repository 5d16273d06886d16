import type { SinkOutcome } from "../sinks/sink.js";

/**
 * Archive freshness (like Firehose's DataFreshness): the age of the oldest message this process has received and not
 * yet made durable, measured from when it was first received here. A message whose write failed stays tracked (it
 * will be redelivered: the age keeps growing through an S3 outage instead of restarting with each delivery) until it
 * is durable or, if it never comes back here (another replica took it, or it went to the DLQ), `forgetAfterMs`
 * after its failure. Read on each scrape; O(messages held) then, nothing per message but two Map operations.
 */
export class FreshnessTracker {
  /** messageId -> first received (ms) and, after a failed write, when to stop waiting for its redelivery. */
  private readonly held = new Map<string, { since: number; forgetAt: number }>();

  constructor(
    private readonly forgetAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  received(messageId: string | undefined): void {
    if (!messageId) return;
    const t = this.held.get(messageId);
    if (t) t.forgetAt = Number.POSITIVE_INFINITY;
    else this.held.set(messageId, { since: this.now(), forgetAt: Number.POSITIVE_INFINITY });
  }

  /** Durable: done. A failed write: kept until redelivered. Rejected (never archivable) or released at shutdown: dropped. */
  settled(messageId: string, outcome: SinkOutcome): void {
    const t = this.held.get(messageId);
    if (!t) return;
    if (outcome.status === "failed" && !outcome.aborted) t.forgetAt = this.now() + this.forgetAfterMs;
    else this.held.delete(messageId);
  }

  /** Seconds since the oldest tracked message was first received; 0 when none is waiting. */
  oldestAgeSeconds(): number {
    const now = this.now();
    let oldest = now;
    for (const [id, t] of this.held) {
      if (t.forgetAt <= now) this.held.delete(id);
      else if (t.since < oldest) oldest = t.since;
    }
    return (now - oldest) / 1000;
  }

  get size(): number {
    return this.held.size;
  }
}
