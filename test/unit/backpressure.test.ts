import { describe, expect, it } from "vitest";
import { Backpressure } from "../../src/receive/backpressure.js";
import { Limiter } from "../../src/receive/limiter.js";

const MiB = 1024 * 1024;
const body = (n: number) => ({ Body: "x".repeat(n) });
const tick = () => new Promise((r) => setImmediate(r));

describe("Backpressure", () => {
  it("admits one poll when nothing is held, however small the budget", async () => {
    const b = new Backpressure({ maxBytes: 1, maxMessages: Infinity, messagesPerPoll: 10 });
    const done = await b.admit();
    expect(done).toBeTypeOf("function");
    let second = false;
    void b.admit().then(() => (second = true));
    await tick();
    expect(second).toBe(false);
    done?.();
    await tick();
    expect(second).toBe(true);
  });

  it("reserves the worst case before any size is known, then learns small bodies and admits many polls", async () => {
    const b = new Backpressure({ maxBytes: 32 * MiB, maxMessages: Infinity, messagesPerPoll: 10 });
    const first = await Promise.all([b.admit(), b.admit(), b.admit()]);
    let fourth = false;
    void b.admit().then(() => (fourth = true));
    await tick();
    // 3 x 10 x 1 MiB reserved: no room for a fourth 10 MiB reservation in 32 MiB.
    expect(fourth).toBe(false);
    b.hold(Array.from({ length: 200 }, () => body(1000)));
    for (const d of first) d?.();
    await tick();
    expect(fourth).toBe(true);
    // 200 small bodies brought the estimate to its 64 KiB floor: eight loops fit easily.
    const more = await Promise.all(Array.from({ length: 8 }, () => b.admit()));
    expect(more.every(Boolean)).toBe(true);
  });

  it("charges bodies in UTF-8 bytes, remembers them per message, and blocks at the budget until released", async () => {
    const b = new Backpressure({ maxBytes: 4 * MiB, maxMessages: Infinity, messagesPerPoll: 1, minMessageBytes: 1024 });
    const msgs = [body(3 * MiB), { Body: "é".repeat(10) }];
    b.hold(msgs);
    expect(b.heldBytes).toBe(3 * MiB + 20);
    expect(b.sizeOf(msgs[1] as object)).toBe(20);
    let admitted = false;
    void b.admit().then(() => (admitted = true));
    await tick();
    // The estimate is now 3 MiB per message: 3 MiB held + 3 MiB reserved > 4 MiB.
    expect(admitted).toBe(false);
    b.releaseBytes(3 * MiB);
    await tick();
    expect(admitted).toBe(true);
  });

  it("bounds held messages (ndjson: one batch written while the next fills), counting open polls", async () => {
    const b = new Backpressure({ maxBytes: 1024 * MiB, maxMessages: 20, messagesPerPoll: 10 });
    const a = await b.admit();
    const c = await b.admit();
    let third = false;
    void b.admit().then(() => (third = true));
    await tick();
    expect(third).toBe(false);
    b.hold(Array.from({ length: 10 }, () => body(10)));
    a?.();
    c?.();
    await tick();
    expect(third).toBe(true);
    b.hold(Array.from({ length: 10 }, () => body(10)));
    let fourth = false;
    void b.admit().then(() => (fourth = true));
    await tick();
    expect(fourth).toBe(false);
    b.releaseMessages(15);
    await tick();
    expect(fourth).toBe(true);
  });

  it("lets an aborted wait go (shutdown) without admitting it", async () => {
    const b = new Backpressure({ maxBytes: 1, maxMessages: Infinity, messagesPerPoll: 10 });
    await b.admit();
    const ac = new AbortController();
    const waiting = b.admit(ac.signal);
    ac.abort();
    expect(await waiting).toBeUndefined();
  });
});

describe("Limiter", () => {
  it("never runs more than its limit at once, in arrival order", async () => {
    const l = new Limiter(3);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        l.run(async () => {
          active++;
          peak = Math.max(peak, active);
          order.push(i);
          await new Promise((r) => setTimeout(r, 1 + (i % 3)));
          active--;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(order.slice(0, 3)).toEqual([0, 1, 2]);
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("frees the slot when a task throws", async () => {
    const l = new Limiter(1);
    await expect(l.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await l.run(async () => 42)).toBe(42);
  });
});
