import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/replay/rate-limiter.js";

describe("rate limiter (token bucket)", () => {
  function fake(rate: number) {
    let t = 0;
    const waits: number[] = [];
    const l = new RateLimiter(
      rate,
      () => t,
      async (ms) => {
        waits.push(ms);
        t += ms;
      },
    );
    return { l, now: () => t, waits };
  }
  it("holds the rate over many batches", async () => {
    const { l, now } = fake(500);
    for (let i = 0; i < 100; i++) await l.take(10);
    // 1,000 messages at 500/s: the first burst of 10 is free, the rest take 990/500 s.
    expect(now()).toBeGreaterThanOrEqual(1970);
    expect(now()).toBeLessThanOrEqual(2000);
  });
  it("caps a batch at the rate when the rate is below 10/s", async () => {
    const { l, now } = fake(2);
    expect(l.maxBatch).toBe(2);
    for (let i = 0; i < 5; i++) await l.take(2);
    expect(now()).toBeGreaterThanOrEqual(4000);
  });
  it("0 is unlimited", async () => {
    const { l, waits } = fake(0);
    for (let i = 0; i < 1000; i++) await l.take(10);
    expect(waits).toEqual([]);
    expect(l.maxBatch).toBe(10);
  });
});
