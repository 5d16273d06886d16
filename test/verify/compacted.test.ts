/**
 * verify --compacted-prefix with the real processes: the service archives an hour that is already closed, the real
 * `sqs-archiver compact` turns it into Parquet, and `sqs-archiver verify` compares the compacted hour with the raw one.
 */
import { randomUUID } from "node:crypto";
import { CopyObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { md5Hex, type Envelope } from "../../src/archive/envelope.js";
import { buildKey } from "../../src/archive/key.js";
import { startBackend, waitFor, type Backend } from "../support/harness.js";
import { assertBuilt, serviceEnv, spawnService } from "../support/process.js";
import { readAllLines } from "../support/archive-reader.js";
import { sendAt } from "../compact/helpers.js";
import { cliEnv, compress, runCli } from "../replay/helpers.js";
import { assertSchema, BUCKET, putRaw, verifyJson } from "./helpers.js";

const N = 12;
const H = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
const WINDOW = ["--since", new Date(H).toISOString(), "--until", new Date(H + 3_600_000).toISOString()];
const codes = (r: Record<string, any>) => Object.fromEntries(Object.entries(r.problemCounts as Record<string, number>).filter(([, n]) => n > 0));

describe("sqs-archiver verify --compacted-prefix", () => {
  let backend: Backend;
  let raw: Envelope[];

  beforeAll(async () => {
    assertBuilt();
    backend = await startBackend();
    backend.createBucket(BUCKET);
    const q = await backend.createQueue("cmp-src");
    const svc = spawnService(serviceEnv(backend, { S3_BUCKET_NAME: BUCKET, S3_PREFIX: "raw/", SQS_QUEUE_URL: q, ARCHIVE_FORMAT: "ndjson", ARCHIVE_COMPRESSION: "gzip", BATCH_MAX_SECONDS: "1", BATCH_MAX_MESSAGES: "5", LOG_LEVEL: "warn" }));
    try {
      for (let i = 0; i < N; i++) await sendAt(H + 60_000 * (i + 1), () => backend.send(q, `closed-hour message ${i}`));
      await waitFor(async () => (await readAllLines(backend, BUCKET, "raw/")).length === N, 40_000, 200);
    } finally {
      svc.child.kill("SIGTERM");
      await svc.exited;
    }
    raw = (await readAllLines(backend, BUCKET, "raw/")).map((l) => l.envelope as Envelope);
    const c = await runCli(["compact", ...WINDOW, "--bucket", BUCKET, "--prefix", "raw/", "--to-prefix", "cmp/", "--settle", "0"], cliEnv(backend));
    expect(c.code, [...c.stdout, ...c.stderr].join("\n")).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await backend?.close();
  });

  it("a compacted hour holding exactly the raw ids → exit 0, rows counted apart from the raw figures", async () => {
    const r = await verifyJson(backend, [...WINDOW, "--prefix", "raw/", "--compacted-prefix", "cmp/"]);
    expect(r.code, JSON.stringify(r.report.problems)).toBe(0);
    assertSchema(r.report);
    expect(r.report.compacted).toEqual({ prefix: "cmp/", generations: 1, rows: N });
    expect(r.report.totals).toMatchObject({ messages: N, distinctIds: N, problems: 0 });
  });

  it("a generation copied under a second generation's key → DUPLICATE_IN_COMPACTED for each of its ids", async () => {
    const keys = (await backend.listKeys(BUCKET, "cmp/")).filter((k) => k.endsWith(".parquet"));
    expect(keys).toHaveLength(1);
    const g1 = keys[0] as string;
    for (const to of [g1, g1.replace("g000001", "g000002")]) {
      await backend.s3.send(new CopyObjectCommand({ Bucket: BUCKET, CopySource: `${BUCKET}/${g1}`, Key: to.replace(/^cmp\//, "cmp2/") }));
    }
    const r = await verifyJson(backend, [...WINDOW, "--prefix", "raw/", "--compacted-prefix", "cmp2/"]);
    expect(r.code).toBe(1);
    expect(codes(r.report)).toEqual({ DUPLICATE_IN_COMPACTED: N });
    const dup = r.report.problems.filter((p: { code: string }) => p.code === "DUPLICATE_IN_COMPACTED");
    expect(new Set(dup.map((p: { messageId: string }) => p.messageId))).toEqual(new Set(raw.map((e) => e.messageId)));
    expect(dup[0].key).toMatch(/^cmp2\/.*g00000[12]\.parquet$/);
  });

  it("a raw message of the hour that no generation holds → MISSING_FROM_COMPACTED with its key and id", async () => {
    const e = { ...(raw[0] as Envelope), messageId: randomUUID(), body: "arrived after compaction", md5OfBody: md5Hex("arrived after compaction") };
    const key = await putRaw(backend, buildKey("raw/", e.messageId, Number(e.attributes.SentTimestamp)), JSON.stringify(e));
    const r = await verifyJson(backend, [...WINDOW, "--prefix", "raw/", "--compacted-prefix", "cmp/"]);
    expect(r.code).toBe(1);
    expect(codes(r.report)).toEqual({ MISSING_FROM_COMPACTED: 1 });
    expect(r.report.problems[0]).toMatchObject({ code: "MISSING_FROM_COMPACTED", key, messageId: e.messageId });
  });

  it("a compacted id whose raw source object no longer holds it (sources still exist) → EXTRA_IN_COMPACTED", async () => {
    const lines = await readAllLines(backend, BUCKET, "raw/");
    const victim = lines.find((l) => l.key.endsWith(".ndjson.gz")) as (typeof lines)[number];
    const kept = lines.filter((l) => l.key === victim.key && l.envelope.messageId !== victim.envelope.messageId).map((l) => JSON.stringify(l.envelope));
    await putRaw(backend, victim.key, await compress(Buffer.from(`${kept.join("\n")}\n`), "gzip"));
    const r = await verifyJson(backend, [...WINDOW, "--prefix", "raw/", "--compacted-prefix", "cmp/"]);
    expect(r.code).toBe(1);
    const extra = r.report.problems.filter((p: { code: string }) => p.code === "EXTRA_IN_COMPACTED");
    expect(extra).toHaveLength(1);
    expect(extra[0]).toMatchObject({ messageId: victim.envelope.messageId });
    expect(extra[0].key).toMatch(/^cmp\/.*g000001\.parquet$/);
    // The rewritten raw object itself: its key's hash no longer matches its ids.
    expect(r.report.problems.find((p: { code: string }) => p.code === "BATCH_HASH_MISMATCH")?.key).toBe(victim.key);
  });

  it("--compacted-prefix must be a valid prefix other than --prefix (exit 2)", async () => {
    const r = await runCli(["verify", "--since", "2h", "--prefix", "raw/", "--compacted-prefix", "raw/"], cliEnv(backend, { S3_BUCKET_NAME: BUCKET }));
    expect(r.code).toBe(2);
    expect(r.stderr.join("\n")).toContain("--compacted-prefix");
  });
});
