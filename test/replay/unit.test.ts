import { mkdtempSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import type { Envelope } from "../../src/archive/envelope.js";
import { parseReplayArgs, resolveResume } from "../../src/cli/replay-args.js";
import { ConfigError } from "../../src/errors.js";
import { CheckpointWriter, readCheckpoint } from "../../src/replay/checkpoint.js";
import { UsageError } from "../../src/replay/errors.js";
import { matchesFilters, parseFilter } from "../../src/replay/filter.js";
import { BadContentError, parseEnvelope } from "../../src/archive/parse.js";
import { byExtension } from "../../src/archive/format.js";
import { lines } from "../../src/archive/read.js";
import {
  BatchCounter,
  compareSequenceNumbers,
  MAX_BATCH_BYTES,
  PROVENANCE_MESSAGE_ID,
  PROVENANCE_SENT_TIMESTAMP,
  queueIdentity,
  toReplayEntry,
} from "../../src/replay/message.js";
import { RateLimiter } from "../../src/replay/rate-limiter.js";
import { Sender, type Outgoing } from "../../src/replay/sender.js";
import { parseDuration, parseTime } from "../../src/replay/time.js";

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);

function env(over: Partial<Envelope> = {}): Envelope {
  return {
    schemaVersion: 1,
    messageId: "11111111-2222-3333-4444-555555555555",
    queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
    body: "hello",
    md5OfBody: "",
    attributes: { SentTimestamp: String(NOW - 1000) },
    messageAttributes: {},
    sentAt: new Date(NOW - 1000).toISOString(),
    archivedAt: new Date(NOW).toISOString(),
    ...over,
  };
}

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

describe("rate limiter (token bucket)", () => {
  function fake(rate: number) {
    let t = 0;
    const waits: number[] = [];
    const l = new RateLimiter(
      rate,
      () => t,
      async (ms) => {
        waits.push(ms);
        t += ms;
      },
    );
    return { l, now: () => t, waits };
  }
  it("holds the rate over many batches", async () => {
    const { l, now } = fake(500);
    for (let i = 0; i < 100; i++) await l.take(10);
    // 1,000 messages at 500/s: the first burst of 10 is free, the rest take 990/500 s.
    expect(now()).toBeGreaterThanOrEqual(1970);
    expect(now()).toBeLessThanOrEqual(2000);
  });
  it("caps a batch at the rate when the rate is below 10/s", async () => {
    const { l, now } = fake(2);
    expect(l.maxBatch).toBe(2);
    for (let i = 0; i < 5; i++) await l.take(2);
    expect(now()).toBeGreaterThanOrEqual(4000);
  });
  it("0 is unlimited", async () => {
    const { l, waits } = fake(0);
    for (let i = 0; i < 1000; i++) await l.take(10);
    expect(waits).toEqual([]);
    expect(l.maxBatch).toBe(10);
  });
});

describe("envelope parsing and attribute mapping", () => {
  it("rejects non-JSON, wrong schemaVersion and non-envelopes with a reason", () => {
    const reason = (t: string) => {
      try {
        parseEnvelope(t);
      } catch (err) {
        return (err as BadContentError).reason;
      }
      return "ok";
    };
    expect(reason("nope")).toBe("NOT_JSON");
    expect(reason(JSON.stringify({ ...env(), schemaVersion: 2 }))).toBe("SCHEMA_VERSION");
    expect(reason("[1]")).toBe("NOT_ENVELOPE");
    expect(reason(JSON.stringify({ ...env(), body: 5 }))).toBe("NOT_ENVELOPE");
    expect(reason(JSON.stringify({ ...env(), attributes: {}, sentAt: "x" }))).toBe("NOT_ENVELOPE");
    expect(reason(JSON.stringify(env({ md5OfBody: "00000000000000000000000000000000" })))).toBe("MD5_MISMATCH");
    expect(reason(JSON.stringify(env()))).toBe("ok");
  });

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

  it("reads hand-named objects under an hour prefix by extension; skips anything else", () => {
    const hp = "p/2026/11/24/09/";
    expect(byExtension(hp, `${hp}copy.json`)).toMatchObject({ layout: "message", hour: "2026-11-24T09:00:00Z" });
    expect(byExtension(hp, `${hp}batch.ndjson.gz`)).toMatchObject({ layout: "ndjson", compression: "gzip" });
    expect(byExtension(hp, `${hp}batch.ndjson.zst`)).toMatchObject({ layout: "ndjson", compression: "zstd" });
    expect(byExtension(hp, `${hp}batch.ndjson`)).toMatchObject({ layout: "ndjson", compression: "none" });
    expect(byExtension(hp, `${hp}notes.txt`)).toBeNull();
    expect(byExtension(hp, `${hp}sub/x.json`)).toBeNull();
  });

  it("splits lines across chunk boundaries without decoding partial UTF-8", async () => {
    const text = Buffer.from('{"a":"ü"}\n{"b":"€"}\nlast', "utf8");
    async function* chunks() {
      for (let i = 0; i < text.length; i += 3) yield text.subarray(i, i + 3);
    }
    const out: string[] = [];
    for await (const l of lines(chunks())) out.push(l.toString("utf8"));
    expect(out).toEqual(['{"a":"ü"}', '{"b":"€"}', "last"]);
  });
});

describe("checkpoint journal", () => {
  const job = { version: 1 as const, sinceMs: 1, untilMs: 2, to: "https://sqs.eu-west-1.amazonaws.com/1/q", bucket: "b-b", prefix: "p/", filters: ["a=b"] };
  it("records sent ids and finished objects, survives a torn last line, compacts on resume", () => {
    const file = join(mkdtempSync(join(tmpdir(), "ckpt-")), "c.jsonl");
    const w = new CheckpointWriter(file, job);
    w.sent([{ key: "k1", line: 1, messageId: "m1" }, { key: "k1", line: 2, messageId: "m2" }]);
    w.done("k1");
    w.sent([{ key: "k2", line: 1, messageId: "m3" }]);
    w.close();
    appendFileSync(file, '{"t":"sent","m":[["k2",2,"m4"');
    const s = readCheckpoint(file);
    expect(s?.job).toEqual(job);
    expect([...(s?.sent ?? [])].sort()).toEqual(["m1", "m2", "m3"]);
    expect([...(s?.done ?? [])]).toEqual(["k1"]);
    const w2 = new CheckpointWriter(file, job, s);
    w2.close();
    const again = readCheckpoint(file);
    expect([...(again?.sent ?? [])].sort()).toEqual(["m1", "m2", "m3"]);
    expect(readFileSync(file, "utf8").split("\n").filter(Boolean).every((l) => JSON.parse(l))).toBe(true);
  });
  it("refuses a file that is not a checkpoint", () => {
    const file = join(mkdtempSync(join(tmpdir(), "ckpt-")), "c.jsonl");
    writeFileSync(file, "hello\nworld\nmore\n");
    expect(() => readCheckpoint(file)).toThrow(UsageError);
  });
  it("a resume must name the same target, bucket, prefix and filters; a relative window takes the recorded one", () => {
    const base = ["--to", job.to, "--bucket", "b-b", "--prefix", "p/", "--filter", "a=b", "--checkpoint", "f"];
    const saved = { job, sent: new Set<string>(), done: new Set<string>() };
    const rel = parseReplayArgs(["--since", "2h", ...base], {}, NOW);
    expect(rel === "help" ? null : resolveResume(rel, saved)).toEqual({ sinceMs: 1, untilMs: 2 });
    const other = parseReplayArgs(["--since", "2h", ...base.slice(0, 1), "https://sqs.eu-west-1.amazonaws.com/1/other", ...base.slice(2)], {}, NOW);
    expect(() => other !== "help" && resolveResume(other, saved)).toThrow(/different replay/);
    const abs = parseReplayArgs(["--since", "1764000000", ...base], {}, NOW);
    expect(() => abs !== "help" && resolveResume(abs, saved)).toThrow(/different window/);
  });
});

describe("replay arguments", () => {
  const to = "https://sqs.eu-west-1.amazonaws.com/123456789012/dst";
  it("defaults: bucket and prefix from the service's variables, region from the queue URL, rate 500", () => {
    const o = parseReplayArgs(["--since", "2h", "--to", to], { S3_BUCKET_NAME: "arch-bucket", S3_PREFIX: "x/" }, NOW);
    expect(o).toMatchObject({ bucket: "arch-bucket", prefix: "x/", rate: 500, concurrency: 16, dryRun: false, yes: false, provenance: true, aws: { region: "eu-west-1" } });
    expect(o !== "help" && o.until.ms).toBe(NOW);
  });
  it.each([
    [["--to", to]],
    [["--since", "2h"]],
    [["--since", "2h", "--to", "not a url"]],
    [["--since", "1h", "--until", "2h", "--to", to]],
    [["--since", "2h", "--to", to, "--rate", "-1"]],
    [["--since", "2h", "--to", to, "--concurrency", "0"]],
    [["--since", "2h", "--to", to, "--bogus"]],
    [["--since", "2h", "--to", to, "--filter", "noequals"]],
    [["--since", "2h", "--to", to, "--bucket", "Bad_Bucket"]],
  ])("usage error: %j", (argv) => {
    expect(() => parseReplayArgs(argv, { S3_BUCKET_NAME: "arch-bucket" }, NOW)).toThrow(UsageError);
  });
  it.each([
    [{}, /S3_BUCKET_NAME/],
    [{ S3_BUCKET_NAME: "Bad_Bucket" }, /S3_BUCKET_NAME/],
    [{ S3_BUCKET_NAME: "arch-bucket", AWS_REGION: "mars" }, /AWS_REGION/],
    [{ S3_BUCKET_NAME: "arch-bucket", AWS_ENDPOINT_URL: "ftp://x" }, /AWS_ENDPOINT_URL/],
  ])("configuration error: %j", (envv, re) => {
    expect(() => parseReplayArgs(["--since", "2h", "--to", to], envv, NOW)).toThrow(ConfigError);
    expect(() => parseReplayArgs(["--since", "2h", "--to", to], envv, NOW)).toThrow(re);
  });
  it("a queue URL whose host names no region needs AWS_REGION (configuration error)", () => {
    expect(() => parseReplayArgs(["--since", "2h", "--to", "http://localhost:4566/000000000000/q"], { S3_BUCKET_NAME: "arch-bucket" }, NOW)).toThrow(ConfigError);
  });
});

describe("sender: FIFO order, one request in flight per group, retries", () => {
  interface Item extends Outgoing {
    n: number;
  }
  function items(groups: string[], perGroup: number): Item[] {
    const out: Item[] = [];
    for (let i = 0; i < perGroup; i++) {
      for (const g of groups) {
        out.push({ messageId: `${g}-${i}`, key: "k", line: i, n: i, re: { entry: { MessageBody: `${g}-${i}`, MessageGroupId: g }, size: 10, provenance: false, group: g } });
      }
    }
    return out;
  }

  it("sends each group in order, never two requests for one group at once, and retries throttled entries", async () => {
    const inFlightGroups = new Map<string, number>();
    const received: string[] = [];
    let calls = 0;
    let violations = 0;
    const sqs = {
      async send(cmd: SendMessageBatchCommand) {
        calls++;
        const entries = cmd.input.Entries ?? [];
        const groups = [...new Set(entries.map((e) => e.MessageGroupId as string))];
        for (const g of groups) {
          if ((inFlightGroups.get(g) ?? 0) > 0) violations++;
          inFlightGroups.set(g, (inFlightGroups.get(g) ?? 0) + 1);
        }
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 5));
        for (const g of groups) inFlightGroups.set(g, (inFlightGroups.get(g) ?? 1) - 1);
        // Every 7th call throttles its last entry once; SQS keeps order only if the sender retries before moving on.
        const fail = calls % 7 === 0 ? entries.at(-1) : undefined;
        const ok = entries.filter((e) => e !== fail);
        received.push(...ok.map((e) => e.MessageBody as string));
        return {
          Successful: ok.map((e) => ({ Id: e.Id, MessageId: "x", MD5OfMessageBody: "" })),
          Failed: fail ? [{ Id: fail.Id, Code: "ThrottlingException", SenderFault: false, Message: "slow down" }] : [],
        };
      },
    } as unknown as SQSClient;
    const sent: string[] = [];
    const failed: string[] = [];
    const sender = new Sender<Item>(sqs, "https://sqs.eu-west-1.amazonaws.com/1/q.fifo", true, 4, new RateLimiter(0), {
      sent: (its) => sent.push(...its.map((i) => i.messageId)),
      failed: (it) => failed.push(it.messageId),
      fatal: () => undefined,
    });
    const groups = ["a", "b", "c", "d", "e", "f"];
    sender.addOrdered(items(groups, 15));
    sender.flush();
    await sender.idle();
    expect(violations).toBe(0);
    expect(failed).toEqual([]);
    expect(sent).toHaveLength(90);
    for (const g of groups) {
      // Retried entries arrive later than the rest of their batch, but never before an earlier message of the group.
      const order = received.filter((b) => b.startsWith(`${g}-`)).map((b) => Number(b.split("-")[1]));
      expect(order).toEqual(Array.from({ length: 15 }, (_, i) => i));
    }
    // Groups were interleaved into shared batches (fewer requests than messages / 10 per group would need).
    expect(calls).toBeLessThan(60);
  });

  it("standard target: batches of 10 within 1 MiB; a refused batch is retried entry by entry", async () => {
    const batches: number[] = [];
    const sqs = {
      async send(cmd: SendMessageBatchCommand) {
        const entries = cmd.input.Entries ?? [];
        if (entries.some((e) => e.MessageBody === "poison") && entries.length > 1) {
          throw Object.assign(new Error("bad"), { name: "InvalidMessageContents", $metadata: { httpStatusCode: 400 } });
        }
        batches.push(entries.length);
        if (entries[0]?.MessageBody === "poison") return { Successful: [], Failed: [{ Id: "m0", Code: "InvalidMessageContents", SenderFault: true, Message: "no" }] };
        return { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [] };
      },
    } as unknown as SQSClient;
    const failed: string[] = [];
    let sent = 0;
    const sender = new Sender<Outgoing>(sqs, "https://sqs.eu-west-1.amazonaws.com/1/q", false, 2, new RateLimiter(0), {
      sent: (its) => (sent += its.length),
      failed: (it, reason) => failed.push(`${it.messageId}:${reason}`),
      fatal: () => undefined,
    });
    for (let i = 0; i < 25; i++) {
      await sender.add({ messageId: `m${i}`, key: "k", line: i, re: { entry: { MessageBody: i === 13 ? "poison" : `b${i}` }, size: i === 3 ? MAX_BATCH_BYTES : 10, provenance: false } });
    }
    sender.flush();
    await sender.idle();
    expect(sent).toBe(24);
    expect(failed).toEqual(["m13:InvalidMessageContents"]);
    expect(batches.every((n) => n <= 10)).toBe(true);
    expect(batches).toContain(1);
  });
});
