import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/replay/errors.js";
import { matchesFilters, parseFilter } from "../../src/replay/filter.js";
import { env } from "./fixtures.js";

describe("filters", () => {
  const e = env({
    attributes: { SentTimestamp: "1", MessageGroupId: "g1" },
    messageAttributes: { tenant: { DataType: "String", StringValue: "acme-eu" }, n: { DataType: "Number.int", StringValue: "42" }, b: { DataType: "Binary", BinaryValue: "AAE=" } },
  });
  it.each([
    [["tenant=acme-eu"], true],
    [["tenant=acme"], false],
    [["tenant=acme*"], true],
    [["tenant=*"], true],
    [["missing=*"], false],
    [["n=42"], true],
    [["b=AAE="], true],
    [["MessageGroupId=g1"], true],
    [["MessageGroupId=g2"], false],
    [["tenant=acme-eu", "MessageGroupId=g2"], false],
    [["tenant=x", "tenant=acme-eu"], true],
    [["tenant=x", "tenant=y"], false],
    [["tenant="], false],
  ])("%j -> %s", (texts, expected) => {
    expect(matchesFilters(e, texts.map(parseFilter))).toBe(expected);
  });
  it("VALUE may contain '='", () => {
    expect(parseFilter("k=a=b")).toEqual({ name: "k", value: "a=b", prefix: false });
  });
  it.each(["novalue", "=x"])("%j is a usage error", (t) => expect(() => parseFilter(t)).toThrow(UsageError));
});
