/**
 * `sqs-archiver verify` with the real processes: the service (`node dist/main.js`) archives messages in both layouts
 * and every codec into the emulator's S3, the test plants one bad object per problem code by direct PutObject, and
 * the CLI (`node dist/cli/cli.js verify`) reads it back and reports.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { md5Hex, type Envelope } from "../../src/archive/envelope.js";
import { buildBatchKey, hourPath } from "../../src/archive/format.js";
import { buildKey } from "../../src/archive/key.js";
import { startBackend, type Backend } from "../support/harness.js";
import { assertBuilt, isolatedEnv, MAIN } from "../support/process.js";
import { getBytes, headObject } from "../support/archive-reader.js";
import { cliEnv, putNdjson, runCli } from "../replay/helpers.js";
import { archiveWithService, assertSchema, BUCKET, LAYOUTS, objectsUnder, putLines, putRaw, verifyJson } from "./helpers.js";

const N = 24;
const WINDOW = ["--since", "3h"];

/** A copy of an archived envelope under a new message id (same hour: the same SentTimestamp). */
const fresh = (e: Envelope, body = e.body): Envelope => ({ ...e, messageId: randomUUID(), body, md5OfBody: md5Hex(body) });
const line = (e: unknown) => JSON.stringify(e);
const sentOf = (e: Envelope) => Number(e.attributes.SentTimestamp);

describe("sqs-archiver verify (service archives, test plants, CLI verifies)", () => {
  let backend: Backend;
  let archived: Map<string, Envelope[]>;
  let base: Envelope[];
  const planted: Record<string, { key: string; messageId?: string; keys?: string[] }> = {};
  const htmlDir = mkdtempSync(join(tmpdir(), "verify-html-"));

  beforeAll(async () => {
    assertBuilt();
    backend = await startBackend();
    backend.createBucket(BUCKET);
    archived = await archiveWithService(backend, N);
    base = archived.get("msg/") as Envelope[];

    // bad/: a few clean objects, then one planted instance of every problem code.
    const P = "bad/";
    const clean = Array.from({ length: 5 }, (_, i) => fresh(base[i] as Envelope));
    await putNdjson(backend, BUCKET, P, clean, "gzip");
    for (const e of [fresh(base[5] as Envelope), fresh(base[6] as Envelope)]) await putRaw(backend, buildKey(P, e.messageId, sentOf(e)), line(e));

    const e0 = base[0] as Envelope;
    const corrupt = buildBatchKey(P, sentOf(e0), [randomUUID()], "gzip");
    planted.CORRUPT_OBJECT = { key: await putRaw(backend, corrupt, "this is not gzip at all") };

    const m = [fresh(base[1] as Envelope), fresh(base[2] as Envelope)];
    planted.MALFORMED_LINE = { key: await putNdjson(backend, BUCKET, P, m, "none", ['{"schemaVersion": 1, "messageId": "trunc']) };

    const u = fresh(base[3] as Envelope);
    planted.UNKNOWN_SCHEMA = { key: await putRaw(backend, buildKey(P, u.messageId, sentOf(u)), line({ ...u, schemaVersion: 2 })), messageId: u.messageId };

    const t = fresh(base[4] as Envelope);
    planted.MD5_MISMATCH = { key: await putRaw(backend, buildKey(P, t.messageId, sentOf(t)), line({ ...t, body: `${t.body} (edited)` })), messageId: t.messageId };

    const w = fresh(base[7] as Envelope);
    const wrongKey = `${P}${hourPath(sentOf(w) - 3_600_000)}/${w.messageId}.json`;
    planted.WRONG_HOUR = { key: await putRaw(backend, wrongKey, line(w)), messageId: w.messageId };

    const k = fresh(base[8] as Envelope);
    planted.KEY_ID_MISMATCH = { key: await putRaw(backend, buildKey(P, randomUUID(), sentOf(k)), line(k)), messageId: k.messageId };

    const h = [fresh(base[9] as Envelope), fresh(base[10] as Envelope)];
    const hashKey = `${P}${hourPath(sentOf(h[0] as Envelope))}/${sentOf(h[0] as Envelope)}-0123456789abcdef.ndjson.zst`;
    planted.BATCH_HASH_MISMATCH = { key: await putLines(backend, hashKey, h.map(line), "zstd") };

    const c = [fresh(base[11] as Envelope), fresh(base[12] as Envelope), fresh(base[13] as Envelope)];
    const countKey = buildBatchKey(P, Math.min(...c.map(sentOf)), c.map((e) => e.messageId), "gzip");
    planted.COUNT_MISMATCH = { key: await putLines(backend, countKey, c.map(line), "gzip", { "message-count": "5" }) };

    const a = fresh(base[14] as Envelope);
    const b = { ...a, body: `${a.body} but different`, md5OfBody: md5Hex(`${a.body} but different`) };
    const conflictA = await putRaw(backend, buildKey(P, a.messageId, sentOf(a)), line(a));
    const conflictB = await putNdjson(backend, BUCKET, P, [b], "none");
    planted.CONFLICT = { key: conflictB, messageId: a.messageId, keys: [conflictA, conflictB] };

    // dups/: the gzip archive copied as it is, one batch holding 4 of its messages again (a redelivery written into
    // another batch) and one of them once more as a message-layout object.
    const gz = archived.get("gz/") as Envelope[];
    for (const key of await backend.listKeys(BUCKET, "gz/")) {
      const head = await headObject(backend, BUCKET, key);
      await putRaw(backend, `dups/${key.slice(3)}`, await getBytes(backend, BUCKET, key), head.Metadata);
    }
    await putNdjson(backend, BUCKET, "dups/", gz.slice(0, 4), "zstd");
    await putRaw(backend, buildKey("dups/", (gz[5] as Envelope).messageId, sentOf(gz[5] as Envelope)), line(gz[5]));
  }, 120_000);

  afterAll(async () => {
    await backend?.close();
  });

  it.each(LAYOUTS.map((l) => [l.prefix]))("a clean archive (%s) → exit 0 with exact counts", async (prefix) => {
    const r = await verifyJson(backend, [...WINDOW, "--prefix", prefix]);
    expect(r.code, r.stderr.join("\n")).toBe(0);
    assertSchema(r.report);
    const stored = await objectsUnder(backend, prefix);
    expect(r.report.totals).toEqual({ objects: stored.count, messages: N, distinctIds: N, duplicates: 0, bytes: stored.bytes, problems: 0 });
    expect(r.report.ok).toBe(true);
    expect(r.report.problems).toEqual([]);
    expect(r.report.hours.length).toBeGreaterThanOrEqual(3);
    expect(r.report.hours.reduce((n: number, h: { messages: number }) => n + h.messages, 0)).toBe(N);
    expect(r.report.s3Requests.getObject).toBe(stored.count);
  });

  it("duplicates inside the window (batched redeliveries, and across layouts) are counted, not problems", async () => {
    const r = await verifyJson(backend, [...WINDOW, "--prefix", "dups/"]);
    expect(r.code, JSON.stringify(r.report.problems)).toBe(0);
    expect(r.report.totals).toMatchObject({ messages: N + 5, distinctIds: N, duplicates: 5, problems: 0 });
    expect(r.report.ok).toBe(true);
  });

  it("one planted instance of each problem code → exit 1, each reported once with its code, key and message id", async () => {
    const html = join(htmlDir, "bad.html");
    const r = await verifyJson(backend, [...WINDOW, "--prefix", "bad/", "--html", html]);
    expect(r.code).toBe(1);
    assertSchema(r.report);
    const codes = Object.keys(planted).sort();
    expect(Object.fromEntries(Object.entries(r.report.problemCounts).filter(([, n]) => n !== 0))).toEqual(Object.fromEntries(codes.map((c) => [c, 1])));
    expect(r.report.problems.map((p: { code: string }) => p.code).sort()).toEqual(codes);
    for (const [code, want] of Object.entries(planted)) {
      const got = r.report.problems.find((p: { code: string }) => p.code === code);
      if (want.keys) expect(want.keys).toContain(got.key);
      else expect(got.key).toBe(want.key);
      if (want.messageId) expect(got.messageId).toBe(want.messageId);
      expect(got.detail).toBeTruthy();
    }
    expect(r.report.problems.find((p: { code: string }) => p.code === "MALFORMED_LINE").line).toBe(3);
    // 7 clean + 2 beside the malformed line + the MD5-mismatched one (still read) + wrong hour + key mismatch
    // + 2 under a wrong hash + 3 with a wrong count + the two conflicting copies; the unknown schema is not read.
    expect(r.report.totals).toMatchObject({ messages: 19, distinctIds: 18, duplicates: 0, problems: 9 });
    expect(r.report.ok).toBe(false);
    expect(readFileSync(html, "utf8")).toContain("CONFLICT");
  });

  it("off a terminal without --json: one JSON line per hour and per problem, then the summary", async () => {
    const r = await runCli(["verify", ...WINDOW, "--prefix", "bad/"], cliEnv(backend, { S3_BUCKET_NAME: BUCKET }));
    expect(r.code).toBe(1);
    const lines = r.stdout.map((l) => JSON.parse(l) as Record<string, any>);
    const problems = lines.filter((l) => l.event === "verify_problem");
    for (const [code, want] of Object.entries(planted)) {
      const p = problems.find((x) => x.code === code);
      expect(p, code).toBeDefined();
      expect(want.keys ?? [want.key]).toContain(p?.key);
    }
    const summary = lines.find((l) => l.event === "verify_summary");
    expect(summary).toMatchObject({ ok: false, exitCode: 1, problems: 9, messages: 19 });
    expect(lines.filter((l) => l.event === "verify_hour").length).toBeGreaterThanOrEqual(3);
  });

  it("node dist/main.js verify (the image's entry point) runs the same command", async () => {
    // Spawned asynchronously: the emulator runs in this process and must keep answering.
    const child = spawn(process.execPath, [MAIN, "verify", "--json", ...WINDOW, "--prefix", "msg/"], { env: cliEnv(backend, { S3_BUCKET_NAME: BUCKET, LOG_LEVEL: "warn" }) });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(JSON.parse(out).totals.messages).toBe(N);
  });
});

describe("sqs-archiver verify: usage and configuration", () => {
  const env = (extra: Record<string, string> = {}) => isolatedEnv({ S3_BUCKET_NAME: "arch-bucket", AWS_REGION: "eu-west-1", ...extra });

  it("--help lists every option and the problem codes", async () => {
    const r = await runCli(["verify", "--help"], env());
    expect(r.code).toBe(0);
    const text = r.stdout.join("\n");
    for (const o of ["--since", "--until", "--bucket", "--prefix", "--compacted-prefix", "--json", "--html", "CORRUPT_OBJECT", "CONFLICT", "MISSING_FROM_COMPACTED"]) expect(text).toContain(o);
    const top = await runCli(["--help"], env());
    expect(top.stdout.join("\n")).toContain("verify");
  });

  it.each([[[]], [["--since", "yesterday"]], [["--since", "2h", "--wat"]], [["--since", "1h", "--until", "3h"]], [["--since", "2h", "--html", ""]], [["--since", "2h", "--concurrency", "0"]]])(
    "usage error %j → exit 2",
    async (args) => {
      const r = await runCli(["verify", ...args], env());
      expect(r.code).toBe(2);
      expect(r.stderr.join("\n")).toContain("sqs-archiver verify");
    },
  );

  it.each([
    [{ S3_BUCKET_NAME: "" }, "S3_BUCKET_NAME"],
    [{ AWS_REGION: "" }, "AWS_REGION"],
    [{ AWS_REGION: "moon-1" }, "AWS_REGION"],
    [{ S3_PREFIX: "/abs/" }, "S3_PREFIX"],
    [{ AWS_ENDPOINT_URL: "ftp://x" }, "AWS_ENDPOINT_URL"],
  ])("configuration error %j → exit 78 naming the variable", async (extra, name) => {
    const r = await runCli(["verify", "--since", "2h"], env(extra));
    expect(r.code).toBe(78);
    expect(r.stderr.join("\n")).toContain(name);
  });
});
