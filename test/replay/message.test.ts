import { describe, expect, it } from "vitest";
import { BatchCounter, compareSequenceNumbers, MAX_BATCH_BYTES, PROVENANCE_MESSAGE_ID, PROVENANCE_SENT_TIMESTAMP, queueIdentity, toReplayEntry } from "../../src/replay/message.js";
import { NOW, env } from "./fixtures.js";

describe("replay message mapping: attributes, provenance, FIFO ids, batching", () => {
  it("keeps the exact body, decodes Binary (and custom Binary types), keeps custom String/Number types", () => {
    const body = "𝄞 emoji, \u0000? no: tab\t, quote \" and \\";
    const re = toReplayEntry(
      env({
        body,
        messageAttributes: {
          b: { DataType: "Binary", BinaryValue: Buffer.from([0, 255, 1]).toString("base64") },
          bg: { DataType: "Binary.gz", BinaryValue: "AAE=" },
          n: { DataType: "Number.int", StringValue: "7" },
          s: { DataType: "String.json", StringValue: "{}" },
        },
      }),
      { fifo: false, provenance: false },
    );
    expect(re.entry.MessageBody).toBe(body);
    const a = re.entry.MessageAttributes ?? {};
    expect(Buffer.from(a.b?.BinaryValue as Uint8Array)).toEqual(Buffer.from([0, 255, 1]));
    expect(a.b?.StringValue).toBeUndefined();
    expect(Buffer.from(a.bg?.BinaryValue as Uint8Array)).toEqual(Buffer.from([0, 1]));
    expect(a.n).toEqual({ DataType: "Number.int", StringValue: "7" });
    expect(a.s).toEqual({ DataType: "String.json", StringValue: "{}" });
    expect(re.entry.MessageGroupId).toBeUndefined();
    expect(re.size).toBe(Buffer.byteLength(body) + 1 + 6 + 3 + 2 + 9 + 2 + 1 + 10 + 1 + 1 + 11 + 2);
  });

  it("adds both provenance attributes only while the message keeps within 10 attributes and 1 MiB", () => {
    const attrs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, { DataType: "String", StringValue: "v" }]));
    const with8 = toReplayEntry(env({ messageAttributes: attrs(8) }), { fifo: false, provenance: true });
    expect(Object.keys(with8.entry.MessageAttributes ?? {})).toHaveLength(10);
    expect(with8.entry.MessageAttributes?.[PROVENANCE_MESSAGE_ID]?.StringValue).toBe(env().messageId);
    expect(with8.entry.MessageAttributes?.[PROVENANCE_SENT_TIMESTAMP]).toEqual({ DataType: "Number", StringValue: String(NOW - 1000) });
    const with9 = toReplayEntry(env({ messageAttributes: attrs(9) }), { fifo: false, provenance: true });
    expect(Object.keys(with9.entry.MessageAttributes ?? {})).toHaveLength(9);
    expect(with9.provenance).toBe(false);
    const big = toReplayEntry(env({ body: "x".repeat(1_048_576 - 10) }), { fifo: false, provenance: true });
    expect(big.provenance).toBe(false);
    expect(big.entry.MessageAttributes).toBeUndefined();
  });

  it("FIFO: group from the envelope, deduplication id always derived from the original message id (unique, stable across resends)", () => {
    const e = env({ attributes: { SentTimestamp: "5", MessageGroupId: "g", MessageDeduplicationId: "d", SequenceNumber: "18889" } });
    const fifo = toReplayEntry(e, { fifo: true, provenance: false });
    expect(fifo.entry).toMatchObject({ MessageGroupId: "g", MessageDeduplicationId: e.messageId });
    expect(fifo.sequenceNumber).toBe("18889");
    const fromStd = toReplayEntry(env(), { fifo: true, provenance: false });
    expect(fromStd.entry).toMatchObject({ MessageGroupId: env().messageId, MessageDeduplicationId: env().messageId });
  });

  it("orders sequence numbers beyond Number precision", () => {
    const seq = ["18889000000000000010", "18889000000000000009", "9", "18889000000000000011"];
    expect([...seq].sort(compareSequenceNumbers)).toEqual(["9", "18889000000000000009", "18889000000000000010", "18889000000000000011"]);
  });

  it("batches at most 10 entries and 1 MiB per request, so a 1 MiB message goes alone", () => {
    const c = new BatchCounter();
    for (const size of [100, MAX_BATCH_BYTES, 100, 100, ...Array(12).fill(10)]) c.add(size);
    // [100], [1 MiB], [100, 100, 8 x 10], [4 x 10]
    expect(c.batches).toBe(4);
    const slow = new BatchCounter(2);
    for (let i = 0; i < 5; i++) slow.add(10);
    expect(slow.batches).toBe(3);
  });

  it("matches the same queue under any endpoint host", () => {
    expect(queueIdentity("https://sqs.eu-west-1.amazonaws.com/123/q")).toBe(queueIdentity("http://localhost:4566/123/q"));
    expect(queueIdentity("https://sqs.eu-west-1.amazonaws.com/123/q")).not.toBe(queueIdentity("https://sqs.eu-west-1.amazonaws.com/123/q2"));
  });
});
