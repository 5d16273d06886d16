import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/replay/errors.js";
import { parseDuration, parseTime } from "../../src/replay/time.js";
import { NOW } from "./fixtures.js";

describe("time parsing (--since / --until)", () => {
  it.each([
    ["2026-11-24T10:00:00Z", Date.UTC(2026, 10, 24, 10)],
    ["2026-11-24T10:00:00.250Z", Date.UTC(2026, 10, 24, 10, 0, 0, 250)],
    ["2026-11-24T12:00:00+02:00", Date.UTC(2026, 10, 24, 10)],
    ["2026-11-24", Date.UTC(2026, 10, 24)],
    ["1764000000", 1_764_000_000_000],
    ["1764000000.5", 1_764_000_000_500],
  ])("%s is absolute", (text, ms) => {
    expect(parseTime(text, NOW)).toEqual({ ms, relative: false, input: text });
  });

  it.each([
    ["90m", 90 * 60_000],
    ["2h", 7_200_000],
    ["7d", 7 * 86_400_000],
    ["1h30m", 5_400_000],
    ["45s", 45_000],
    ["1w", 604_800_000],
  ])("%s is a duration back from now", (text, d) => {
    expect(parseTime(text, NOW)).toEqual({ ms: NOW - d, relative: true, input: text });
    expect(parseDuration(text)).toBe(d);
  });

  it.each(["", "yesterday", "2026-11-24T10:00:00", "2026-13-01T00:00:00Z", "2026-02-30", "1764000000000", "-5m", "5 m"])("%j is a usage error", (text) => {
    expect(() => parseTime(text, NOW)).toThrow(UsageError);
  });

  it("names the missing time zone", () => {
    expect(() => parseTime("2026-11-24T10:00:00", NOW)).toThrow(/time zone/);
  });
});
