import { describe, expect, it } from "vitest";
import { buildKey, parseKey } from "../../src/archive/key.js";
import { MalformedMessageError } from "../../src/errors.js";

describe("buildKey", () => {
  const id = "5fea7756-0ea4-451a-a703-a558b933e274";

  it("partitions by the UTC hour of SentTimestamp", () => {
    expect(buildKey("sqs-messages/", id, Date.UTC(2024, 0, 2, 3, 59, 59, 999))).toBe(`sqs-messages/2024/01/02/03/${id}.json`);
  });

  it("uses UTC, not local time, at day and year boundaries", () => {
    expect(buildKey("p/", id, Date.UTC(2023, 11, 31, 23, 0, 0))).toBe(`p/2023/12/31/23/${id}.json`);
    expect(buildKey("p/", id, Date.UTC(2024, 0, 1, 0, 0, 0))).toBe(`p/2024/01/01/00/${id}.json`);
    expect(buildKey("p/", id, Date.UTC(2024, 1, 29, 12))).toBe(`p/2024/02/29/12/${id}.json`);
  });

  it("is the same for every delivery of a message (no wall clock involved)", () => {
    const sent = 1_700_000_000_000;
    expect(buildKey("a/", id, sent)).toBe(buildKey("a/", id, sent));
  });

  it("allows an empty prefix and one without a trailing slash", () => {
    const t = Date.UTC(2024, 6, 1);
    expect(buildKey("", id, t)).toBe(`2024/07/01/00/${id}.json`);
    expect(buildKey("raw-", id, t)).toBe(`raw-2024/07/01/00/${id}.json`);
  });

  it("rejects missing timestamps and ids that are not SQS message ids", () => {
    expect(() => buildKey("p/", id, Number.NaN)).toThrow(MalformedMessageError);
    expect(() => buildKey("p/", "../../etc/passwd", Date.UTC(2024, 0))).toThrow(MalformedMessageError);
    expect(() => buildKey("p/", "", Date.UTC(2024, 0))).toThrow(MalformedMessageError);
  });

  it("rejects timestamps no SQS message can carry (0 from an empty attribute, past year 9999) with a stable code", () => {
    for (const bad of [0, -1, 1.5, 9_000_000_000_000_000, Date.UTC(2005, 11, 31)]) {
      expect(() => buildKey("p/", id, bad)).toThrow(expect.objectContaining({ code: "SENT_TIMESTAMP_INVALID" }));
    }
  });

  it("round-trips through parseKey", () => {
    const key = buildKey("x/y/", id, Date.UTC(2025, 5, 7, 8));
    expect(parseKey("x/y/", key)).toEqual({ messageId: id, hour: "2025-06-07T08:00:00Z" });
    expect(parseKey("x/y/", "x/y/2025/06/07/notakey")).toBeNull();
    expect(parseKey("other/", key)).toBeNull();
  });
});
