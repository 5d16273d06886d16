import { createHash } from "node:crypto";
import type { Message } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { buildEnvelope, md5Hex, serializeEnvelope, validateMessage } from "../../src/archive/envelope.js";
import { ChecksumMismatchError, MalformedMessageError } from "../../src/errors.js";

const QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders";
const md5 = (s: string) => createHash("md5").update(Buffer.from(s, "utf8")).digest("hex");

function message(body: string, extra: Partial<Message> = {}): Message {
  return {
    MessageId: "0b8c3c34-55f4-4bcf-a3f2-8b8f6f1d3e0a",
    ReceiptHandle: "rh",
    Body: body,
    MD5OfBody: md5(body),
    Attributes: { SentTimestamp: "1700000000123", ApproximateReceiveCount: "2", ApproximateFirstReceiveTimestamp: "1700000000200", SenderId: "AIDAEXAMPLE" },
    ...extra,
  };
}

function roundTrip(m: Message) {
  const json = serializeEnvelope(buildEnvelope(validateMessage(m), QUEUE, new Date("2024-05-06T07:08:09.010Z")));
  // What a consumer of the archive does: bytes -> UTF-8 -> JSON.
  return { json, env: JSON.parse(Buffer.from(json, "utf8").toString("utf8")) as Record<string, any> };
}

describe("envelope", () => {
  it("contains the contract fields with the exact body and all system attributes", () => {
    const { env } = roundTrip(message('{"a":1}', { Attributes: { SentTimestamp: "1700000000123", ApproximateReceiveCount: "1", ApproximateFirstReceiveTimestamp: "1", SenderId: "S", AWSTraceHeader: "Root=1-abc" } }));
    expect(env).toMatchObject({
      schemaVersion: 1,
      messageId: "0b8c3c34-55f4-4bcf-a3f2-8b8f6f1d3e0a",
      queueUrl: QUEUE,
      body: '{"a":1}',
      md5OfBody: md5('{"a":1}'),
      sentAt: new Date(1700000000123).toISOString(),
      archivedAt: "2024-05-06T07:08:09.010Z",
    });
    expect(env.attributes).toEqual({ SentTimestamp: "1700000000123", ApproximateReceiveCount: "1", ApproximateFirstReceiveTimestamp: "1", SenderId: "S", AWSTraceHeader: "Root=1-abc" });
    expect(env.messageAttributes).toEqual({});
  });

  it("keeps FIFO attributes", () => {
    const { env } = roundTrip(
      message("x", { Attributes: { SentTimestamp: "1700000000001", MessageGroupId: "g", MessageDeduplicationId: "d", SequenceNumber: "18849496460467696128" } }),
    );
    expect(env.attributes).toMatchObject({ MessageGroupId: "g", MessageDeduplicationId: "d", SequenceNumber: "18849496460467696128" });
  });

  it.each([
    ["4-byte UTF-8 (emoji, musical symbol)", "emoji 😀👍🏽 and 𝄞 and 𠜎"],
    ["every plane sample", "\u0041\u00e9\u4e2d\uffff\u{10000}\u{1f600}\u{10ffff}"],
    ["XML specials", `<a href="x">&amp;'</a>]]>`],
    ["control characters and whitespace", "\t\n\r \u0001\u001f\u007f"],
    ["only whitespace", "   "],
    ["invalid JSON that looks like JSON", '{"a":'],
    ["a single character", "x"],
  ])("round-trips %s byte for byte", (_name, body) => {
    const { json, env } = roundTrip(message(body));
    expect(env.body).toBe(body);
    expect(Buffer.from(env.body, "utf8").equals(Buffer.from(body, "utf8"))).toBe(true);
    expect(md5Hex(env.body)).toBe(env.md5OfBody);
    expect(() => JSON.parse(json)).not.toThrow();
  });

  it("round-trips a 1 MiB body exactly", () => {
    const body = "é".repeat(256 * 1024) + "x".repeat(1024 * 1024 - 512 * 1024);
    expect(Buffer.byteLength(body)).toBe(1024 * 1024);
    const { env } = roundTrip(message(body));
    expect(env.body).toBe(body);
  });

  it("encodes Binary attributes as base64 of the exact bytes and keeps String/Number as strings", () => {
    const bytes = new Uint8Array([0, 255, 128, 10, 13, 0]);
    const { env } = roundTrip(
      message("b", {
        MessageAttributes: {
          z: { DataType: "Binary", BinaryValue: bytes },
          a: { DataType: "String", StringValue: "ünï" },
          n: { DataType: "Number.float", StringValue: "1.50" },
        },
        MD5OfMessageAttributes: "abc",
      }),
    );
    expect(Object.keys(env.messageAttributes)).toEqual(["a", "n", "z"]);
    expect(env.messageAttributes.z.DataType).toBe("Binary");
    expect(Buffer.from(env.messageAttributes.z.BinaryValue, "base64")).toEqual(Buffer.from(bytes));
    expect(env.messageAttributes.a).toEqual({ DataType: "String", StringValue: "ünï" });
    expect(env.messageAttributes.n).toEqual({ DataType: "Number.float", StringValue: "1.50" });
    expect(env.md5OfMessageAttributes).toBe("abc");
  });

  it("rejects a body that does not match MD5OfBody", () => {
    expect(() => validateMessage(message("abc", { MD5OfBody: md5("abd") }))).toThrow(ChecksumMismatchError);
    try {
      validateMessage(message("abc", { MD5OfBody: md5("abd") }));
    } catch (err) {
      expect((err as ChecksumMismatchError).code).toBe("MD5_MISMATCH");
    }
  });

  it("rejects messages missing what an archive needs", () => {
    expect(() => validateMessage({ ...message("a"), MessageId: undefined })).toThrow(MalformedMessageError);
    expect(() => validateMessage({ ...message("a"), ReceiptHandle: undefined })).toThrow(MalformedMessageError);
    expect(() => validateMessage({ ...message("a"), Body: undefined })).toThrow(MalformedMessageError);
    expect(() => validateMessage({ ...message("a"), Attributes: {} })).toThrow(MalformedMessageError);
  });

  it("computes MD5 over UTF-8 bytes as SQS does", () => {
    // MD5 of the UTF-8 encoding of "é" (0xC3 0xA9), not of UTF-16 code units.
    expect(md5Hex("é")).toBe(createHash("md5").update(Buffer.from([0xc3, 0xa9])).digest("hex"));
  });
});
