/**
 * Round trips with the real processes: the service (`node dist/main.js`) archives messages into the emulator's S3,
 * the CLI (`node dist/cli/cli.js replay`) sends them to a fresh queue, and the test receives and compares them.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { mkdtempSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { Message, MessageAttributeValue } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Envelope } from "../../src/archive/envelope.js";
import { buildBatchKey, hourPath } from "../../src/archive/format.js";
import { PROVENANCE_MESSAGE_ID, PROVENANCE_SENT_TIMESTAMP } from "../../src/replay/message.js";
import { startBackend, waitFor, type Backend } from "../support/harness.js";
import { assertBuilt, ensureDead, serviceEnv, spawnService, type ChildService } from "../support/process.js";
import { readAllLines } from "../support/archive-reader.js";
import { spawn } from "node:child_process";
import { CLI, cliEnv, plainAttributes, putNdjson, receiveAll, runCli, spawnCli } from "./helpers.js";

const BUCKET = "replay-archive";
const ROOT_DIR = fileURLToPath(new URL("../..", import.meta.url));
const PROVENANCE = [PROVENANCE_MESSAGE_ID, PROVENANCE_SENT_TIMESTAMP];

interface Sent {
  id: string;
  body: string;
  attrs: Record<string, MessageAttributeValue>;
  group?: string;
}

const allTypes: Record<string, MessageAttributeValue> = {
  s: { DataType: "String", StringValue: "plain ü €" },
  n: { DataType: "Number", StringValue: "-12.5e3" },
  b: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 0xfe, 0xff, 10, 13]) },
  ni: { DataType: "Number.int", StringValue: "42" },
  sj: { DataType: "String.json", StringValue: '{"a":[1,2]}' },
  bg: { DataType: "Binary.gz", BinaryValue: gzipSync("payload") },
};
const tenAttrs: Record<string, MessageAttributeValue> = Object.fromEntries(
  Array.from({ length: 10 }, (_, i) => [`a${i}`, { DataType: "String", StringValue: `v${i}` }]),
);

describe("replay round trips (service archives, CLI replays, test receives)", () => {
  let backend: Backend;
  let src: string;
  let srcFifo: string;
  const services: ChildService[] = [];
  const std: Sent[] = [];
  const stdNd: Sent[] = [];
  const fifoNd: Sent[] = [];
  const tenants: Sent[] = [];
  const fifo: Sent[] = [];
  const envelopes = new Map<string, Envelope>();
  let queueSeq = 0;
  const freshQueue = (fifoQueue = false) =>
    backend.createQueue(`dst-${++queueSeq}${fifoQueue ? ".fifo" : ""}`, fifoQueue ? { FifoQueue: "true" } : undefined);
  const sendCount = () => backend.proxy.counts.get("SendMessageBatch") ?? 0;

  beforeAll(async () => {
    assertBuilt();
    backend = await startBackend();
    backend.createBucket(BUCKET);
    src = await backend.createQueue("src");
    srcFifo = await backend.createQueue("src.fifo", { FifoQueue: "true" });
    const srcNd = await backend.createQueue("src-nd");
    const srcFifoNd = await backend.createQueue("src-nd.fifo", { FifoQueue: "true" });
    const common = { S3_BUCKET_NAME: BUCKET, CONCURRENCY: "2", LOG_LEVEL: "warn" };
    const ndjson = { ARCHIVE_FORMAT: "ndjson", BATCH_MAX_SECONDS: "1" };
    services.push(
      spawnService(serviceEnv(backend, { ...common, SQS_QUEUE_URL: src, S3_PREFIX: "std/" })),
      spawnService(serviceEnv(backend, { ...common, SQS_QUEUE_URL: srcFifo, S3_PREFIX: "fifo/" })),
      spawnService(serviceEnv(backend, { ...common, ...ndjson, SQS_QUEUE_URL: srcNd, S3_PREFIX: "ndsvc/", ARCHIVE_COMPRESSION: "gzip" })),
      spawnService(serviceEnv(backend, { ...common, ...ndjson, SQS_QUEUE_URL: srcFifoNd, S3_PREFIX: "fifo-nd/", ARCHIVE_COMPRESSION: "zstd" })),
    );

    const odd: Array<[string, Record<string, MessageAttributeValue>]> = [
      ["x".repeat(1_048_576), {}],
      ['{"unterminated": [1, 2', { kind: { DataType: "String", StringValue: "invalid-json" } }],
      ["tab\there\r\nnewline \u007f\u0085\u009f end", { kind: { DataType: "String", StringValue: "control" } }],
      ["grüße — \uFFFD 漢字", allTypes],
      ["ten attributes", tenAttrs],
    ];
    for (const [body, attrs] of odd) {
      std.push({ id: await backend.send(src, body, attrs), body, attrs });
      stdNd.push({ id: await backend.send(srcNd, body, attrs), body, attrs });
    }
    await sleep(20);
    for (let i = 0; i < 12; i++) {
      const attrs = { tenant: { DataType: "String", StringValue: i % 3 === 0 ? "acme" : "other" } };
      const body = `tenant message ${i}`;
      tenants.push({ id: await backend.send(src, body, attrs), body, attrs });
      stdNd.push({ id: await backend.send(srcNd, body, attrs), body, attrs });
      await sleep(3);
    }
    for (let i = 0; i < 24; i++) {
      const group = `g${i % 3}`;
      const body = `fifo ${group} #${Math.floor(i / 3)}`;
      const extra = { MessageGroupId: group, MessageDeduplicationId: `d${i}` };
      fifo.push({ id: await backend.send(srcFifo, body, { n: { DataType: "Number", StringValue: String(i) } }, extra), body, attrs: {}, group });
      fifoNd.push({ id: await backend.send(srcFifoNd, body, { n: { DataType: "Number", StringValue: String(i) } }, extra), body, attrs: {}, group });
    }
    const lines = async (prefix: string) => (await readAllLines(backend, BUCKET, prefix)).length;
    await waitFor(
      async () =>
        (await lines("std/")) === std.length + tenants.length &&
        (await lines("fifo/")) === fifo.length &&
        (await lines("ndsvc/")) === stdNd.length &&
        (await lines("fifo-nd/")) === fifoNd.length,
      40_000,
      200,
    );
    for (const prefix of ["std/", "ndsvc/"]) {
      for (const l of await readAllLines(backend, BUCKET, prefix)) envelopes.set(l.envelope.messageId as string, l.envelope as Envelope);
    }
    expect((await backend.listKeys(BUCKET, "ndsvc/")).filter((k) => !k.endsWith(".ndjson.gz"))).toEqual([]);
    expect((await backend.listKeys(BUCKET, "fifo-nd/")).filter((k) => !k.endsWith(".ndjson.zst"))).toEqual([]);
    for (const svc of services) svc.child.kill("SIGTERM");
    await Promise.all(services.map((svc) => svc.exited));
  }, 120_000);

  afterAll(async () => {
    for (const svc of services) await ensureDead(svc);
    await backend?.close();
  });

  const byOriginal = (msgs: Message[], sent: Sent[]) => {
    const map = new Map<string, Message[]>();
    for (const m of msgs) {
      const orig = m.MessageAttributes?.[PROVENANCE_MESSAGE_ID]?.StringValue ?? sent.find((s) => s.body === m.Body)?.id ?? "?";
      map.set(orig, [...(map.get(orig) ?? []), m]);
    }
    return map;
  };

  const expectExact = (msgs: Message[], sent: Sent[]) => {
    const map = byOriginal(msgs, sent);
    expect([...map.keys()].sort()).toEqual(sent.map((s) => s.id).sort());
    for (const s of sent) {
      const got = map.get(s.id) as Message[];
      expect(got, `message ${s.id} exactly once`).toHaveLength(1);
      const m = got[0] as Message;
      expect(m.Body === s.body, `body of ${s.id}`).toBe(true);
      expect(plainAttributes(m, PROVENANCE)).toEqual(plainAttributes({ MessageAttributes: s.attrs }));
      const env = envelopes.get(s.id);
      if (Object.keys(s.attrs).length <= 8 && s.body.length < 1_000_000) {
        expect(m.MessageAttributes?.[PROVENANCE_MESSAGE_ID]?.StringValue).toBe(s.id);
        if (env) expect(m.MessageAttributes?.[PROVENANCE_SENT_TIMESTAMP]?.StringValue).toBe(env.attributes.SentTimestamp);
      } else {
        expect(m.MessageAttributes?.[PROVENANCE_MESSAGE_ID]).toBeUndefined();
      }
    }
  };

  it("message layout: every body and attribute (Binary, custom types, 1 MiB, invalid JSON, control characters) arrives once", async () => {
    const dst = await freshQueue();
    const r = await runCli(["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "std/", "--rate", "0"], cliEnv(backend));
    expect(r.code, r.stderr.join("\n")).toBe(0);
    const all = [...std, ...tenants];
    expect(r.summary()).toMatchObject({ listed: all.length, read: all.length, matched: all.length, sent: all.length, skippedDuplicates: 0, failed: 0, exitCode: 0 });
    expectExact(await receiveAll(backend, dst, all.length), all);
  });

  it("ndjson layout written by the service (gzip): every body and attribute arrives once", async () => {
    const dst = await freshQueue();
    const r = await runCli(["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "ndsvc/", "--rate", "0"], cliEnv(backend));
    expect(r.code, r.stderr.join("\n")).toBe(0);
    expect(r.summary()).toMatchObject({ read: stdNd.length, matched: stdNd.length, sent: stdNd.length, skippedDuplicates: 0, failed: 0 });
    expectExact(await receiveAll(backend, dst, stdNd.length), stdNd);
  });

  it("FIFO archived by the service in ndjson (zstd): each group in order, once each", async () => {
    const dst = await freshQueue(true);
    const r = await runCli(["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "fifo-nd/", "--rate", "0"], cliEnv(backend));
    expect(r.code, r.stderr.join("\n")).toBe(0);
    const got = await receiveAll(backend, dst, fifoNd.length);
    expect(got).toHaveLength(fifoNd.length);
    for (const g of ["g0", "g1", "g2"]) {
      expect(got.filter((m) => m.Attributes?.MessageGroupId === g).map((m) => m.Body)).toEqual(fifoNd.filter((s) => s.group === g).map((s) => s.body));
    }
  });

  it("ndjson objects (gzip, zstd, none): a message stored in two objects is sent once", async () => {
    const all = [...std, ...tenants];
    const envs = all.map((s) => envelopes.get(s.id) as Envelope);
    await putNdjson(backend, BUCKET, "nd/", envs.slice(0, 8), "gzip");
    await putNdjson(backend, BUCKET, "nd/", envs.slice(7, 14), "zstd");
    await putNdjson(backend, BUCKET, "nd/", envs.slice(14), "none");
    const dst = await freshQueue();
    const r = await runCli(["replay", "--since", "1h", "--to", dst, "--prefix", "nd/", "--rate", "0"], cliEnv(backend, { S3_BUCKET_NAME: BUCKET }));
    expect(r.code, r.stderr.join("\n")).toBe(0);
    expect(r.summary()).toMatchObject({ listed: 3, read: all.length + 1, matched: all.length + 1, sent: all.length, skippedDuplicates: 1, failed: 0 });
    expectExact(await receiveAll(backend, dst, all.length), all);
  });

  it("standard target: a SendMessageBatch whose answer is lost is sent again, so the target holds a second copy, told apart only by sqs-archiver-original-message-id (documented)", async () => {
    const envs = tenants.slice(0, 4).map((t) => envelopes.get(t.id) as Envelope);
    await putNdjson(backend, BUCKET, "lost-answer/", envs, "gzip");
    const dst = await freshQueue();
    // SQS accepts the first SendMessageBatch that carries messages, its answer never arrives: the SDK retries the same
    // entries. (The one before it is replay's empty up-front target check.)
    let batches = 0;
    backend.proxy.setFaults([{ match: (op) => op.name === "SendMessageBatch" && ++batches === 2, action: { kind: "reset-after-forward" }, times: 1 }]);
    try {
      const r = await runCli(["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "lost-answer/", "--rate", "0"], cliEnv(backend));
      expect(r.code, r.stderr.join("\n")).toBe(0);
      expect(r.summary()).toMatchObject({ sent: envs.length, failed: 0 });
    } finally {
      backend.proxy.clearFaults();
    }
    const got = await receiveAll(backend, dst, envs.length * 2);
    expect(got).toHaveLength(envs.length * 2);
    const originals = got.map((m) => m.MessageAttributes?.[PROVENANCE_MESSAGE_ID]?.StringValue).sort();
    expect(originals).toEqual([...envs, ...envs].map((e) => e.messageId).sort());
    const doc = readFileSync(join(ROOT_DIR, "docs/replay.md"), "utf8");
    expect(doc).toMatch(/## Duplicates in a standard target queue/);
    expect(doc).toMatch(/idempotent on `sqs-archiver-original-message-id`/);
  });

  it("FIFO: distinct messages whose deduplication ids collide (same body, content-based) are each replayed", async () => {
    // The same body sent twice, 40 minutes apart, to a content-based-deduplication queue: one deduplication id, two
    // messages. Replayed within SQS's five-minute window, the original id would make SQS drop the second.
    const base = envelopes.get(std[4]?.id as string) as Envelope;
    const now = Date.now();
    const twins = [now - 50 * 60_000, now - 10 * 60_000].map((sent, i) => ({
      ...base,
      messageId: `00000000-0000-4000-8000-00000000000${i}`,
      attributes: { ...base.attributes, SentTimestamp: String(sent), MessageGroupId: "twins", MessageDeduplicationId: "sha256-of-the-same-body" },
    })) as Envelope[];
    await putNdjson(backend, BUCKET, "twins/", twins, "gzip");
    const dst = await freshQueue(true);
    const r = await runCli(["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "twins/", "--rate", "0"], cliEnv(backend));
    expect(r.code, r.stderr.join("\n")).toBe(0);
    const got = await receiveAll(backend, dst, 2);
    expect(got.map((m) => m.Body)).toEqual([base.body, base.body]);
    expect(got.map((m) => m.Attributes?.MessageDeduplicationId)).toEqual(twins.map((t) => t.messageId));
  });

  it("FIFO: several groups, each in its original order, once each, deduplication ids derived from the original message ids", async () => {
    const dst = await freshQueue(true);
    const r = await runCli(["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "fifo/", "--rate", "0", "--concurrency", "4"], cliEnv(backend));
    expect(r.code, r.stderr.join("\n")).toBe(0);
    expect(r.summary()).toMatchObject({ sent: fifo.length, failed: 0 });
    const got = await receiveAll(backend, dst, fifo.length);
    expect(got).toHaveLength(fifo.length);
    for (const g of ["g0", "g1", "g2"]) {
      const bodies = got.filter((m) => m.Attributes?.MessageGroupId === g).map((m) => m.Body);
      expect(bodies).toEqual(fifo.filter((s) => s.group === g).map((s) => s.body));
    }
    const dedup = got.map((m) => m.Attributes?.MessageDeduplicationId).sort();
    expect(dedup).toEqual(fifo.map((s) => s.id).sort());
  });

  it("window edges: [since, until) on SentTimestamp, RFC 3339 and Unix seconds with milliseconds", async () => {
    const ts = tenants.map((t) => Number(envelopes.get(t.id)?.attributes.SentTimestamp));
    // Pick edges where neighbours differ, so the expected set is exact.
    const since = ts[3] as number;
    const until = ts[8] as number;
    const expected = tenants.filter((_, i) => (ts[i] as number) >= since && (ts[i] as number) < until);
    expect(expected.length).toBeGreaterThanOrEqual(4);
    const dst = await freshQueue();
    const r = await runCli(
      ["replay", "--since", new Date(since).toISOString(), "--until", (until / 1000).toFixed(3), "--to", dst, "--bucket", BUCKET, "--prefix", "std/", "--rate", "0"],
      cliEnv(backend),
    );
    expect(r.code, r.stderr.join("\n")).toBe(0);
    expect(r.summary()).toMatchObject({ matched: expected.length, sent: expected.length });
    expectExact(await receiveAll(backend, dst, expected.length), expected);
  });

  it("lists only the hour prefixes of the window", async () => {
    const e = envelopes.get(tenants[0]?.id as string) as Envelope;
    const oldMs = Number(e.attributes.SentTimestamp) - 5 * 3_600_000;
    const old = { ...e, messageId: "00000000-0000-4000-8000-000000000001", attributes: { ...e.attributes, SentTimestamp: String(oldMs) }, sentAt: new Date(oldMs).toISOString() };
    await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `win/${hourPath(oldMs)}/${old.messageId}.json`, Body: JSON.stringify(old) }));
    await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `win/${hourPath(Number(e.attributes.SentTimestamp))}/${e.messageId}.json`, Body: JSON.stringify(e) }));
    const dry = (since: string, until: string) =>
      runCli(["replay", "--dry-run", "--since", since, "--until", until, "--to", src, "--bucket", BUCKET, "--prefix", "win/"], cliEnv(backend));
    const recent = await dry(new Date(Number(e.attributes.SentTimestamp) - 1000).toISOString(), new Date(Number(e.attributes.SentTimestamp) + 1000).toISOString());
    expect(recent.summary()).toMatchObject({ listed: 1, matched: 1 });
    const past = await dry(new Date(oldMs - 60_000).toISOString(), new Date(oldMs + 60_000).toISOString());
    expect(past.summary()).toMatchObject({ listed: 1, matched: 1 });
    expect(past.events("dry_run")[0]?.sampleMessageIds).toEqual([old.messageId]);
    // One ListObjectsV2 per hour prefix in the window (one or two hours here).
    expect(past.events("dry_run")[0]?.s3Requests.listObjectsV2).toBeLessThanOrEqual(2);
  });

  it("--filter on a message attribute (AND across names, OR within a name) and on a system attribute", async () => {
    const dst = await freshQueue();
    const acme = tenants.filter((t) => t.attrs.tenant?.StringValue === "acme");
    const r = await runCli(["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "std/", "--filter", "tenant=acme", "--rate", "0"], cliEnv(backend));
    expect(r.code).toBe(0);
    expect(r.summary()).toMatchObject({ matched: acme.length, sent: acme.length });
    expectExact(await receiveAll(backend, dst, acme.length), acme);

    const dst2 = await freshQueue(true);
    const g1 = fifo.filter((f) => f.group === "g1");
    const r2 = await runCli(["replay", "--since", "1h", "--to", dst2, "--bucket", BUCKET, "--prefix", "fifo/", "--filter", "MessageGroupId=g1", "--rate", "0"], cliEnv(backend));
    expect(r2.code).toBe(0);
    expect((await receiveAll(backend, dst2, g1.length)).map((m) => m.Body)).toEqual(g1.map((f) => f.body));

    const r3 = await runCli(
      ["replay", "--dry-run", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "std/", "--filter", "tenant=acme", "--filter", "tenant=oth*", "--filter", "kind=*"],
      cliEnv(backend),
    );
    expect(r3.summary()).toMatchObject({ matched: 0 });
  });

  it("--dry-run sends nothing and reports hours, bytes, requests and sample ids", async () => {
    const dst = await freshQueue();
    const before = sendCount();
    const r = await runCli(["replay", "--dry-run", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "std/"], cliEnv(backend));
    expect(r.code, r.stderr.join("\n")).toBe(0);
    // One SendMessageBatch without entries: the up-front target check, which sends nothing.
    expect(sendCount()).toBe(before + 1);
    expect((await backend.queueDepth(dst)).visible).toBe(0);
    const all = [...std, ...tenants];
    const dry = r.events("dry_run")[0] as Record<string, any>;
    expect(dry.messages).toBe(all.length);
    expect(dry.hours.reduce((n: number, h: { messages: number }) => n + h.messages, 0)).toBe(all.length);
    expect(dry.bytes).toBeGreaterThan(1_048_576);
    expect(dry.s3Requests.getObject).toBe(all.length);
    expect(dry.s3Requests.listObjectsV2).toBeGreaterThanOrEqual(1);
    // The 1 MiB message goes alone: at least two batches beyond ceil(n/10).
    expect(dry.sqsRequests.sendMessageBatch).toBeGreaterThanOrEqual(Math.ceil(all.length / 10));
    expect(dry.sampleMessageIds.length).toBeGreaterThan(0);
    for (const id of dry.sampleMessageIds) expect(all.map((s) => s.id)).toContain(id);
    expect(r.summary()).toMatchObject({ dryRun: true, sent: 0, matched: all.length });
  });

  it("refuses to replay into the queue the archive came from, unless --yes", async () => {
    const before = sendCount();
    const r = await runCli(["replay", "--since", "1h", "--to", src, "--bucket", BUCKET, "--prefix", "std/"], cliEnv(backend));
    expect(r.code).toBe(2);
    expect(r.stderr.join("\n")).toMatch(/came from .*--yes/s);
    expect(sendCount()).toBe(before + 1);
    expect((await backend.queueDepth(src)).visible).toBe(0);
    const r2 = await runCli(["replay", "--since", "1h", "--to", src, "--bucket", BUCKET, "--prefix", "std/", "--filter", "tenant=acme", "--yes", "--rate", "0"], cliEnv(backend));
    expect(r2.code).toBe(0);
    expect(await receiveAll(backend, src, 4)).toHaveLength(4);
  });

  it("bad archive content is skipped with key and line, counted, exit 1; the good messages are still sent", async () => {
    const good = tenants.slice(0, 6).map((t) => envelopes.get(t.id) as Envelope);
    const msgKey = `bad/${hourPath(Number(good[0]?.attributes.SentTimestamp))}/00000000-0000-0000-0000-000000000000.json`;
    await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: msgKey, Body: "this is not json" }));
    const schemaKey = await putNdjson(backend, BUCKET, "bad/", good.slice(0, 2), "gzip", [JSON.stringify({ ...good[2], schemaVersion: 99 }), "{broken"]);
    const rest = good.slice(3, 6);
    const truncatedKey = buildBatchKey("bad/", Number(rest[0]?.attributes.SentTimestamp), rest.map((e) => e.messageId), "gzip");
    const gz = gzipSync(Buffer.from(rest.map((e) => JSON.stringify(e)).join("\n") + "\n"));
    await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: truncatedKey, Body: gz.subarray(0, Math.floor(gz.length * 0.8)) }));
    // Named by hand: read by extension (not gzip at all); a file that is no archive object is skipped, not bad.
    const handKey = `bad/${hourPath(Number(good[0]?.attributes.SentTimestamp))}/by-hand.ndjson.gz`;
    await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: handKey, Body: "plain text, not gzip" }));
    await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `bad/${hourPath(Number(good[0]?.attributes.SentTimestamp))}/README.txt`, Body: "notes" }));
    const dst = await freshQueue();
    const r = await runCli(["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "bad/", "--rate", "0"], cliEnv(backend));
    expect(r.code).toBe(1);
    const bad = r.events("bad_content");
    expect(bad).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: msgKey, line: 1, reason: "NOT_JSON" }),
        expect.objectContaining({ key: schemaKey, line: 3, reason: "SCHEMA_VERSION" }),
        expect.objectContaining({ key: schemaKey, line: 4, reason: "NOT_JSON" }),
        expect.objectContaining({ key: truncatedKey, reason: "READ_FAILED" }),
        expect.objectContaining({ key: handKey, line: 1, reason: "READ_FAILED" }),
      ]),
    );
    expect(r.summary()).toMatchObject({ listed: 4, badContent: 5, failed: 0 });
    expect(r.events("object_ignored")).toEqual([expect.objectContaining({ key: expect.stringMatching(/README\.txt$/) })]);
    const got = await receiveAll(backend, dst, 2);
    // Lines before the break of the truncated gzip are still sent.
    expect(got.length).toBeGreaterThanOrEqual(2);
    expect(got.map((m) => m.Body)).toEqual(expect.arrayContaining([tenants[0]?.body, tenants[1]?.body]));
    for (const line of r.stdout) expect(line).not.toContain("tenant message");
  });

  it("throttled requests are retried; a message SQS refuses is logged with its id and reason, the rest sent, exit 1", async () => {
    const dst = await freshQueue();
    const acme = tenants.filter((t) => t.attrs.tenant?.StringValue === "acme");
    const refused = acme[1] as Sent;
    const before = sendCount();
    backend.proxy.setFaults([{ match: (op) => op.name === "SendMessageBatch", action: { kind: "status", status: 400, code: "ThrottlingException" }, times: 4 }]);
    // The queue "refuses" one entry (SenderFault): the response is rewritten; SQS itself took it, so it is received.
    backend.proxy.setTransforms({
      response: (op, body, request, status) => {
        if (op.name !== "SendMessageBatch" || status !== 200) return body;
        const req = JSON.parse(request.toString("utf8")) as { Entries: Array<{ Id: string; MessageBody: string }> };
        const res = JSON.parse(body.toString("utf8")) as { Successful?: Array<{ Id: string }>; Failed?: unknown[] };
        const bad = req.Entries.find((e) => e.MessageBody === refused.body);
        if (!bad) return body;
        res.Successful = (res.Successful ?? []).filter((e) => e.Id !== bad.Id);
        res.Failed = [...(res.Failed ?? []), { Id: bad.Id, SenderFault: true, Code: "InvalidParameterValue", Message: "refused by the test" }];
        return Buffer.from(JSON.stringify(res));
      },
    });
    try {
      const r = await runCli(["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "std/", "--filter", "tenant=acme", "--rate", "0"], cliEnv(backend));
      expect(r.code).toBe(1);
      expect(r.summary()).toMatchObject({ matched: acme.length, sent: acme.length - 1, failed: 1 });
      expect(r.events("send_failed")).toEqual([expect.objectContaining({ messageId: refused.id, reason: "InvalidParameterValue", key: expect.stringContaining(refused.id) })]);
      // Throttled 4 times (the target check's 3 attempts, then the batch's first), then sent.
      expect(sendCount() - before).toBeGreaterThanOrEqual(5);
    } finally {
      backend.proxy.clearFaults();
      backend.proxy.setTransforms({});
    }
    expect((await receiveAll(backend, dst, acme.length)).map((m) => m.Body).sort()).toEqual(acme.map((a) => a.body).sort());
  });

  it("on a terminal: a progress bar and a one-line summary", async () => {
    const dst = await freshQueue();
    const cmd = [CLI, "replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "std/", "--filter", "tenant=acme", "--rate", "0"].map((a) => `'${a}'`).join(" ");
    // Async: the emulator lives in this process, so the test must not block its event loop.
    const r = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const child = spawn("script", ["-qec", `'${process.execPath}' ${cmd}`, "/dev/null"], { env: cliEnv(backend), stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
      child.on("close", (status) => resolve({ status, stdout }));
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/replay \|.*\| \d+% \| objects \d+\/\d+ \| sent \d+/);
    expect(r.stdout).toMatch(/replay: listed \d+ objects, read \d+, matched 4, sent 4, skipped as duplicates 0, failed 0/);
    expect(r.stdout).not.toContain('"event"');
  });

  it("on a narrow terminal (50 columns): every progress line fits, no figure cut", async () => {
    const dst = await freshQueue();
    const cmd = [CLI, "replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "std/", "--rate", "20"].map((a) => `'${a}'`).join(" ");
    const out = await new Promise<string>((resolve) => {
      const child = spawn("script", ["-qec", `stty cols 50; '${process.execPath}' ${cmd}`, "/dev/null"], { env: cliEnv(backend), stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b.toString("utf8")));
      child.on("close", () => resolve(stdout));
    });
    // Each redraw starts with a cursor movement: split there.
    // eslint-disable-next-line no-control-regex
    const screenLines = out.split(/\x1b\[[0-9;?]*[A-Za-z]|[\r\n]+/);
    const bars = screenLines.filter((l) => /^replay\b.*\d+%/.test(l));
    expect(bars.length, JSON.stringify(out)).toBeGreaterThan(0);
    for (const l of bars) {
      expect(l.length, l).toBeLessThan(50);
      expect(l).toMatch(/^replay \|[█░]{10,40}\| \d+%( \| objects \d+\/\d+)?( \| sent \d+)?( \| failed \d+)?$/);
    }
  });

  it("--checkpoint: kill -9 mid-replay, then resume: every message exactly once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "replay-ckpt-"));
    const file = join(dir, "ckpt.jsonl");
    const dst = await freshQueue();
    const all = [...std, ...tenants];
    const args = ["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "std/", "--checkpoint", file];
    const first = spawnCli([...args, "--rate", "5", "--concurrency", "1"], cliEnv(backend));
    const received: Message[] = [];
    await waitFor(async () => {
      received.push(...(await receiveAll(backend, dst, 0, 2_000, 0)));
      return received.length >= 5 ? true : undefined;
    }, 20_000);
    first.child.kill("SIGKILL");
    await first.exited;
    expect(received.length).toBeLessThan(all.length);
    const second = await runCli([...args, "--rate", "0"], cliEnv(backend));
    expect(second.code, second.stderr.join("\n")).toBe(0);
    // Objects the first run finished are not read again; messages it sent from others are skipped by id.
    const s2 = second.summary() as Record<string, number>;
    expect((s2.objectsSkipped as number) + (s2.alreadySent as number)).toBeGreaterThanOrEqual(received.length);
    expect(s2.sent).toBe(all.length - received.length);
    received.push(...(await receiveAll(backend, dst, all.length - received.length)));
    expectExact(received, all);
    // A third run with the same checkpoint has nothing left to send.
    const third = await runCli([...args, "--rate", "0"], cliEnv(backend));
    expect(third.code).toBe(0);
    expect(third.summary()).toMatchObject({ sent: 0 });
  });

  it("Ctrl-C stops after the requests in flight (exit 130); the resume sends the rest", async () => {
    const dir = mkdtempSync(join(tmpdir(), "replay-ckpt-"));
    const file = join(dir, "ckpt.jsonl");
    const dst = await freshQueue(true);
    const args = ["replay", "--since", "1h", "--to", dst, "--bucket", BUCKET, "--prefix", "fifo/", "--checkpoint", file];
    const first = spawnCli([...args, "--rate", "4"], cliEnv(backend));
    await waitFor(() => (first.events("replay_progress").some((p) => p.sent > 0) ? true : undefined), 20_000);
    first.child.kill("SIGINT");
    const { code } = await first.exited;
    expect(code).toBe(130);
    const s1 = first.summary() as Record<string, any>;
    expect(s1.stopped).toBe("interrupted");
    expect(s1.sent).toBeGreaterThan(0);
    expect(s1.sent).toBeLessThan(fifo.length);
    const second = await runCli([...args, "--rate", "0"], cliEnv(backend));
    expect(second.code).toBe(0);
    expect(s1.sent + (second.summary()?.sent as number)).toBe(fifo.length);
    const got = await receiveAll(backend, dst, fifo.length);
    expect(got).toHaveLength(fifo.length);
    for (const g of ["g0", "g1", "g2"]) {
      expect(got.filter((m) => m.Attributes?.MessageGroupId === g).map((m) => m.Body)).toEqual(fifo.filter((s) => s.group === g).map((s) => s.body));
    }
  });
});
