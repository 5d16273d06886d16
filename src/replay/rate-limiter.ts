import { setTimeout as sleep } from "node:timers/promises";

/**
 * Token bucket in messages per second. The bucket holds at most `burst` tokens (at most one SendMessageBatch, 10),
 * so the rate holds over any window longer than a batch; waiters are served in order. Rate 0 means unlimited.
 */
export class RateLimiter {
  readonly rate: number;
  readonly burst: number;
  private tokens: number;
  private last: number;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    rate: number,
    private readonly now: () => number = () => performance.now(),
    private readonly wait: (ms: number) => Promise<unknown> = (ms) => sleep(ms),
  ) {
    this.rate = rate;
    this.burst = rate === 0 ? Infinity : Math.max(1, Math.min(10, Math.floor(rate)));
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Largest batch a caller may take at once. */
  get maxBatch(): number {
    return Number.isFinite(this.burst) ? this.burst : 10;
  }

  take(n: number, signal?: AbortSignal): Promise<void> {
    if (this.rate === 0) return Promise.resolve();
    const want = Math.min(n, this.burst);
    const next = this.chain.then(() => this.acquire(want, signal));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async acquire(n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const t = this.now();
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
      this.last = t;
      if (this.tokens >= n) {
        this.tokens -= n;
        return;
      }
      await this.wait(Math.max(1, Math.ceil(((n - this.tokens) / this.rate) * 1000)));
    }
  }
}
