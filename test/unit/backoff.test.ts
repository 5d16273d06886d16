import { describe, expect, it } from "vitest";
import { backoffMs } from "../../src/receive/backoff.js";

describe("backoffMs", () => {
  it("is zero without failures", () => expect(backoffMs(0, 100, 1000)).toBe(0));
  it("doubles per failure between half and full step", () => {
    expect(backoffMs(1, 100, 10_000, () => 0)).toBe(50);
    expect(backoffMs(1, 100, 10_000, () => 1)).toBe(100);
    expect(backoffMs(4, 100, 10_000, () => 1)).toBe(800);
    expect(backoffMs(4, 100, 10_000, () => 0)).toBe(400);
  });
  it("is capped", () => {
    expect(backoffMs(50, 100, 5_000, () => 1)).toBe(5_000);
    expect(backoffMs(1000, 100, 5_000, () => 0.5)).toBeLessThanOrEqual(5_000);
  });
});
