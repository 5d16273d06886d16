import type { MessageAttributeValue } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue, startBackend, startService, type Backend, type RunningService } from "../support/harness.js";
import { expectExactlyOnce, readArchive, sendAll, waitForDrained } from "../support/reliability.js";

/**
 * Unusual and hostile input through the emulator over HTTP, archived byte for byte: a body of exactly 1 MiB (the
 * SQS maximum), whitespace-only and one-character bodies, invalid JSON, JSON look-alikes, characters from every
 * block of the Basic Multilingual Plane the SQS character set allows, XML specials, the control characters SQS
 * accepts; ten message attributes of each type including Binary; FIFO queues. (The emulator rejects characters
 * above U+FFFF, which real SQS accepts: 4-byte UTF-8 is covered by the envelope unit tests.)
 */
const BUCKET = "hostile";
const MiB = 1024 * 1024;

/** Every BMP code point SQS allows (#x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD), sampled every 7th, in chunks. */
function bmpSweep(): string[] {
  const cps: number[] = [0x9, 0xa, 0xd];
  for (let c = 0x20; c <= 0xd7ff; c += 7) cps.push(c);
  for (let c = 0xe000; c <= 0xfffd; c += 7) cps.push(c);
  cps.push(0xfffd, 0xfeff, 0x200b, 0x202e, 0xd7ff, 0xe000);
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += 1000) out.push(String.fromCodePoint(...cps.slice(i, i + 1000)));
  return out;
}

describe("hostile and unusual input", () => {
  let backend: Backend;
  let queueUrl: string;
  let svc: RunningService;

  beforeAll(async () => {
    backend = await startBackend();
    backend.createBucket(BUCKET);
    queueUrl = await backend.createQueue("hostile-q");
    svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: "h/", CONCURRENCY: "2", LOG_LEVEL: "info" });
  });
  afterAll(async () => {
    await svc?.stop();
    await backend?.close();
  });

  it("archives odd bodies byte for byte", async () => {
    const oneMiB = `{"pad":"${"a".repeat(MiB - 10)}"}`;
    expect(Buffer.byteLength(oneMiB, "utf8")).toBe(MiB);
    // 1 MiB of 3-byte UTF-8 characters, minus one so the total stays within the limit.
    const oneMiBMultibyte = "€".repeat(Math.floor(MiB / 3));
    const bodies = [
      " ",
      "\t",
      "\n",
      "\r\n\r\n",
      "   \t  \n ",
      "a",
      "0",
      "null",
      "{",
      "}{",
      '{"unterminated": "',
      '{"dup":1,"dup":2}',
      "[1,2,3,]",
      "NaN",
      '"just a string"',
      "\uFEFF{\"bom\":true}",
      `<?xml version="1.0"?><a b='"&amp;&lt;&gt;'><![CDATA[ ]]> ]]></a>`,
      "&lt;&#x26;&#0;&unknown;",
      "\\u0000 \\n \\\" backslashes \\\\",
      "line1\rline2\nline3\r\nline4\t\ttabs",
      "\u202Eright-to-left override\u202C and \u200Bzero width",
      "\uE000\uF8FF private use \uFFFD replacement",
      "Ελληνικά Кириллица עברית العربية हिन्दी 中文 日本語 한국어 ไทย",
      ...bmpSweep(),
    ];
    const sent = await sendAll(backend, queueUrl, bodies);
    // Sent alone: a 1 MiB message is a whole SendMessageBatch payload by itself.
    const bigId = await backend.send(queueUrl, oneMiB);
    const bigMultiId = await backend.send(queueUrl, oneMiBMultibyte);
    sent.set(bigId, oneMiB);
    sent.set(bigMultiId, oneMiBMultibyte);
    await waitForDrained(backend, queueUrl, 30_000);
    const archive = await expectExactlyOnce(backend, BUCKET, "h/", sent);
    expect(archive.get(bigId)?.body.length).toBe(MiB);
    for (const [id, env] of archive) expect(env.md5OfBody, id).toMatch(/^[0-9a-f]{32}$/);
    expect(await metricValue(svc.base, "sqs_archiver_failures_total")).toBe(0);
  }, 60_000);

  it("keeps ten message attributes of each type, Binary as exact bytes", async () => {
    const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const kinds: Array<[string, (i: number) => MessageAttributeValue]> = [
      ["String", (i) => ({ DataType: "String", StringValue: i === 0 ? " " : `välue ${i} <&> "q" \t ${"€".repeat(i)}` })],
      ["Number", (i) => ({ DataType: "Number", StringValue: ["0", "-1", "3.14159", "1e10", "-12.5e-3", "99999999999999999999", "0.000001", "42", "-0", "7"][i] as string })],
      ["Binary", (i) => ({ DataType: "Binary", BinaryValue: i === 0 ? allBytes : Buffer.from([i, 0, 255, 0x80, i * 13 % 256]) })],
      ["Custom", (i) => (i % 3 === 0 ? { DataType: `Binary.type-${i}`, BinaryValue: Buffer.from([i, 0xff]) } : i % 3 === 1 ? { DataType: `String.type-${i}`, StringValue: `s${i}` } : { DataType: `Number.type-${i}`, StringValue: String(i) })],
    ];
    const ids = new Map<string, { kind: string; attrs: Record<string, MessageAttributeValue> }>();
    for (const [kind, make] of kinds) {
      const attrs: Record<string, MessageAttributeValue> = {};
      for (let i = 0; i < 10; i++) attrs[`${kind.toLowerCase()}_${i}.name-${i}`] = make(i);
      ids.set(await backend.send(queueUrl, `ten ${kind} attributes`, attrs), { kind, attrs });
    }
    await waitForDrained(backend, queueUrl, 15_000);
    const archive = await readArchive(backend, BUCKET, "h/");
    for (const [id, { kind, attrs }] of ids) {
      const env = archive.get(id) as Record<string, any>;
      expect(env, kind).toBeDefined();
      expect(env.body).toBe(`ten ${kind} attributes`);
      expect(Object.keys(env.messageAttributes).sort(), kind).toEqual(Object.keys(attrs).sort());
      for (const [name, a] of Object.entries(attrs)) {
        const got = env.messageAttributes[name];
        expect(got.DataType, name).toBe(a.DataType);
        if (a.BinaryValue) expect(Buffer.from(got.BinaryValue, "base64").equals(Buffer.from(a.BinaryValue)), name).toBe(true);
        else expect(got.StringValue, name).toBe(a.StringValue);
      }
    }
  }, 60_000);

  it("FIFO: group, deduplication id and sequence number preserved for odd bodies; .fifo URL", async () => {
    const fifoUrl = await backend.createQueue("hostile.fifo", { FifoQueue: "true", ContentBasedDeduplication: "true" });
    expect(fifoUrl.endsWith("/hostile.fifo")).toBe(true);
    const fifo = await startService(backend, { SQS_QUEUE_URL: fifoUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: "fifo/", CONCURRENCY: "2" });
    try {
      const bodies = [" ", "{", "<a>&amp;</a>", "same group 1", "same group 2", "Ω≈ç√∫"];
      const sent = await sendAll(backend, fifoUrl, bodies, (i) => ({ MessageGroupId: `group-${i % 2}`, ...(i === 0 ? { MessageDeduplicationId: "explicit-dedup-0" } : {}) }));
      await waitForDrained(backend, fifoUrl, 20_000);
      const archive = await expectExactlyOnce(backend, BUCKET, "fifo/", sent);
      const seqByGroup = new Map<string, bigint[]>();
      for (const [i, [id]] of [...sent].entries()) {
        const env = archive.get(id) as Record<string, any>;
        expect(env.attributes.MessageGroupId).toBe(`group-${i % 2}`);
        expect(env.attributes.MessageDeduplicationId).toMatch(i === 0 ? /^explicit-dedup-0$/ : /^[0-9a-f]{64}$/);
        expect(env.attributes.SequenceNumber).toMatch(/^\d+$/);
        expect(env.queueUrl).toBe(fifoUrl);
        const g = seqByGroup.get(env.attributes.MessageGroupId as string) ?? [];
        g.push(BigInt(env.attributes.SequenceNumber as string));
        seqByGroup.set(env.attributes.MessageGroupId as string, g);
      }
      // Sequence numbers grow in send order within a group.
      for (const seqs of seqByGroup.values()) expect([...seqs].sort((a, b) => (a < b ? -1 : 1))).toEqual(seqs);
    } finally {
      await fifo.stop();
    }
  }, 60_000);
});
