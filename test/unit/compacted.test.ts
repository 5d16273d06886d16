/** The compacted layout's pure parts: key scheme and the row <-> envelope mapping (every envelope rebuilt exactly). */
import { describe, expect, it } from "vitest";
import { fromRow, generationKey, manifestKey, parseCompactedKey, toRow } from "../../src/archive/compacted.js";
import { md5Hex, type Envelope } from "../../src/archive/envelope.js";
import { parseArchiveKey } from "../../src/archive/format.js";
import { defaultToPrefix } from "../../src/cli/compact-args.js";

const T = Date.UTC(2026, 10, 24, 13, 5, 7, 123);

function env(over: Partial<Envelope> & Record<string, unknown> = {}): Envelope {
  const body = (over.body as string | undefined) ?? "hello";
  return {
    schemaVersion: 1,
    messageId: "0b1c2d3e-0000-4000-8000-000000000001",
    queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
    body,
    md5OfBody: md5Hex(body),
    attributes: { ApproximateFirstReceiveTimestamp: String(T + 5), ApproximateReceiveCount: "2", SenderId: "AIDA", SentTimestamp: String(T) },
    messageAttributes: {},
    sentAt: new Date(T).toISOString(),
    archivedAt: new Date(T + 900).toISOString(),
    ...over,
  } as Envelope;
}

const rebuilt = (e: Envelope) => fromRow(JSON.parse(JSON.stringify(toRow(e, "k"))));

describe("compacted keys", () => {
  it("generation keys are deterministic per hour and generation, and every reader can tell them apart", () => {
    const k = generationKey("c/", T, 3);
    expect(k).toBe("c/2026/11/24/13/g000003.parquet");
    // Manifests live outside the hour folders: a table or a replay over the hours sees only Parquet.
    expect(manifestKey("c/", T, 3)).toBe("c/_manifests/2026/11/24/13/g000003.json");
    expect(parseCompactedKey("c/", k)).toEqual({ hour: "2026-11-24T13:00:00Z", hourMs: Date.UTC(2026, 10, 24, 13), generation: 3 });
    expect(parseCompactedKey("c/", manifestKey("c/", T, 3))).toBeNull();
    expect(parseArchiveKey("c/", k)).toEqual({ layout: "parquet", hour: "2026-11-24T13:00:00Z", generation: 3 });
  });

  it("the default compacted prefix sits beside the source prefix", () => {
    expect(defaultToPrefix("sqs-messages/")).toBe("sqs-messages-compacted/");
    expect(defaultToPrefix("team/orders/")).toBe("team/orders-compacted/");
    expect(defaultToPrefix("")).toBe("compacted/");
  });
});

describe("row <-> envelope", () => {
  it.each<[string, Envelope]>([
    ["a service envelope", env()],
    ["control characters, invalid JSON, 4-byte UTF-8", env({ body: '{"x": [1, \u0000\u0007\t\r\n 𝄞 \uFFFD' })],
    ["a 1 MiB body", env({ body: "z".repeat(1_048_576) })],
    [
      "every attribute kind (Binary, lists, custom types)",
      env({
        md5OfMessageAttributes: "0123456789abcdef0123456789abcdef",
        messageAttributes: {
          b: { DataType: "Binary", BinaryValue: Buffer.from([0, 1, 254, 255]).toString("base64") },
          n: { DataType: "Number.int", StringValue: "42" },
          s: { DataType: "String", StringValue: "ü €" },
          sl: { DataType: "String", StringListValues: ["a", "b"] },
          bl: { DataType: "Binary", BinaryListValues: ["AAE=", "/w=="] },
        },
      }),
    ],
    ["FIFO", env({ attributes: { MessageDeduplicationId: "d1", MessageGroupId: "g1", SentTimestamp: String(T), SequenceNumber: "18888888888888888888" } })],
    ["no queueUrl, no md5OfBody, no archivedAt (named by hand)", (() => { const e = env() as any; delete e.queueUrl; delete e.md5OfBody; delete e.archivedAt; return e; })()],
    ["a sentAt that is not SentTimestamp's ISO form", env({ sentAt: "2026-11-24T15:05:07.123+02:00" })],
    ["an archivedAt without milliseconds", env({ archivedAt: "2026-11-24T13:05:08Z" })],
    ["fields this version does not know", env({ traceId: "abc", nested: { a: [1, null] } } as any)],
    ["base64 without padding, unknown attribute fields", env({ messageAttributes: { b: { DataType: "Binary", BinaryValue: "AAE" }, x: { DataType: "String", StringValue: "v", Extra: 1 } as any } })],
    ["an explicit null archivedAt", env({ archivedAt: null as any })],
  ])("%s is rebuilt exactly", (_name, e) => {
    const r = rebuilt(e);
    expect(r).toEqual(e);
    expect(JSON.stringify(r)).toBe(JSON.stringify(e));
  });

  it("has the columns the issue names, FIFO fields as columns, times as epoch ms", () => {
    const e = env({ attributes: { MessageDeduplicationId: "d1", MessageGroupId: "g1", SentTimestamp: String(T), SequenceNumber: "1" } });
    const row = toRow(e, "raw/2026/11/24/13/x.ndjson.gz");
    expect(row).toMatchObject({ message_id: e.messageId, body: e.body, md5_of_body: e.md5OfBody, sent_at: T, queue_url: e.queueUrl, archived_at: T + 900, message_group_id: "g1", message_deduplication_id: "d1", sequence_number: "1", source_key: "raw/2026/11/24/13/x.ndjson.gz", extra: null });
    expect(row.attributes).toEqual(e.attributes);
  });
});
