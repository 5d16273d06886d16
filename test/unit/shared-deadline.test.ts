import { describe, expect, it } from "vitest";
import { SharedDeadline } from "../../src/receive/shared-deadline.js";

describe("SharedDeadline", () => {
  it("hands the same signal to calls within 1% of the budget, a fresh one after", async () => {
    const d = new SharedDeadline(2000);
    const a = d.signal();
    expect(d.signal()).toBe(a);
    await new Promise((r) => setTimeout(r, 30));
    const b = d.signal();
    expect(b).not.toBe(a);
  });

  it("aborts when the budget runs out, never before 99% of it", async () => {
    const d = new SharedDeadline(200);
    const t0 = performance.now();
    const s = d.signal();
    await new Promise<void>((resolve) => s.addEventListener("abort", () => resolve(), { once: true }));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    expect((s.reason as Error).name).toBe("TimeoutError");
  });

  it("aborts every signal handed out when the parent aborts (shutdown)", () => {
    const parent = new AbortController();
    const d = new SharedDeadline(60_000, parent.signal);
    const s = d.signal();
    parent.abort(new Error("shutdown deadline"));
    expect(s.aborted).toBe(true);
  });
});
