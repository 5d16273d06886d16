/**
 * `sqs-archiver compact` as a user runs it: the real service archives messages of a closed hour (both layouts, every
 * codec), hand-written objects add duplicates, and the real CLI process compacts them against the emulator (through
 * the proxy, which answers If-None-Match: * with 412 like S3). Every assertion is on what is in the bucket.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync, gzipSync, zstdDecompressSync } from "node:zlib";
import { DuckDBInstance } from "@duckdb/node-api";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Envelope } from "../../src/archive/envelope.js";
import { md5Hex } from "../../src/archive/envelope.js";
import { hourPath, hourStart } from "../../src/archive/format.js";
import { startBackend, waitFor, type Backend } from "../support/harness.js";
import { assertBuilt, ensureDead, serviceEnv, spawnService, type ChildService } from "../support/process.js";
import { getBytes, readAllLines } from "../support/archive-reader.js";
import { dedupeViewSelect, duckDbColumns } from "../../src/replay/athena.js";
import { hiveTypeOf } from "../../src/replay/athena-compacted.js";
import { PROVENANCE_MESSAGE_ID, PROVENANCE_SENT_TIMESTAMP } from "../../src/replay/message.js";
import { cliEnv, compress, plainAttributes, putNdjson, receiveAll, runCli, spawnCli } from "../replay/helpers.js";
import { allRows, readCompacted, sendAt, type Attrs } from "./helpers.js";

const BUCKET = "compact-archive";
const HOUR = 3_600_000;
const NOW = Date.now();
/** Closed hours, well past --settle. */
const H1 = hourStart(NOW) - 3 * HOUR;

const iso = (ms: number) => new Date(ms).toISOString();
const window = (h: number) => ["--since", iso(h), "--until", iso(h + HOUR)];

function envelope(id: string, body: string, sentMs: number, attrs: Record<string, string> = {}): Envelope {
  return {
    schemaVersion: 1,
    messageId: id,
    queueUrl: "http://sqs.us-east-1.localhost/000000000000/hand",
    body,
    md5OfBody: md5Hex(body),
    attributes: { SentTimestamp: String(sentMs), ApproximateReceiveCount: "1", ...attrs },
    messageAttributes: {},
    sentAt: iso(sentMs),
    archivedAt: iso(sentMs + 1000),
  };
}

/** Every envelope deep-equals one delivery archived under that id, and every archived id appears exactly once. */
function expectExactlyOnce(rows: ReturnType<typeof allRows>, raw: Map<string, Envelope[]>): void {
  const ids = rows.map((r) => r.envelope.messageId);
  expect(new Set(ids).size, "no id twice").toBe(ids.length);
  expect([...ids].sort()).toEqual([...raw.keys()].sort());
  for (const r of rows) {
    const deliveries = raw.get(r.envelope.messageId) ?? [];
    expect(deliveries.some((d) => JSON.stringify(d) === JSON.stringify(r.envelope)), `${r.envelope.messageId} rebuilt exactly`).toBe(true);
  }
}

/** Every envelope of one raw hour folder, by messageId (objects named by hand included, decoded by extension). */
async function rawById(backend: Backend, prefix: string, hour: number): Promise<Map<string, Envelope[]>> {
  const m = new Map<string, Envelope[]>();
  for (const key of await backend.listKeys(BUCKET, `${prefix}${hourPath(hour)}/`)) {
    const bytes = await getBytes(backend, BUCKET, key);
    const text = key.endsWith(".gz") ? gunzipSync(bytes) : key.endsWith(".zst") ? zstdDecompressSync(bytes) : bytes;
    for (const line of text.toString("utf8").split("\n").filter(Boolean)) {
      const e = JSON.parse(line) as Envelope;
      m.set(e.messageId, [...(m.get(e.messageId) ?? []), e]);
    }
  }
  return m;
}

describe("sqs-archiver compact (real CLI, real service archives, emulator S3 with write-once)", () => {
  let backend: Backend;
  const services: ChildService[] = [];
  const sentIds: string[] = [];

  beforeAll(async () => {
    assertBuilt();
    backend = await startBackend();
    backend.createBucket(BUCKET);
    const common = { S3_BUCKET_NAME: BUCKET, S3_PREFIX: "raw/", CONCURRENCY: "1", LOG_LEVEL: "warn" };
    const nd = { ARCHIVE_FORMAT: "ndjson", BATCH_MAX_SECONDS: "1" };
    const queues = {
      msg: await backend.createQueue("c-msg"),
      gz: await backend.createQueue("c-gz"),
      zst: await backend.createQueue("c-zst"),
      none: await backend.createQueue("c-none"),
      fifo: await backend.createQueue("c-fifo.fifo", { FifoQueue: "true" }),
    };
    services.push(
      spawnService(serviceEnv(backend, { ...common, SQS_QUEUE_URL: queues.msg })),
      spawnService(serviceEnv(backend, { ...common, ...nd, SQS_QUEUE_URL: queues.gz, ARCHIVE_COMPRESSION: "gzip" })),
      spawnService(serviceEnv(backend, { ...common, ...nd, SQS_QUEUE_URL: queues.zst, ARCHIVE_COMPRESSION: "zstd" })),
      spawnService(serviceEnv(backend, { ...common, ...nd, SQS_QUEUE_URL: queues.none, ARCHIVE_COMPRESSION: "none" })),
      spawnService(serviceEnv(backend, { ...common, ...nd, SQS_QUEUE_URL: queues.fifo, ARCHIVE_COMPRESSION: "zstd" })),
    );
    const binary: Attrs = {
      b: { DataType: "Binary", BinaryValue: new Uint8Array([0, 1, 0xfe, 0xff, 10, 13]) },
      bg: { DataType: "Binary.gz", BinaryValue: gzipSync("payload") },
      s: { DataType: "String", StringValue: "plain ü €" },
      n: { DataType: "Number", StringValue: "-12.5e3" },
    };
    const odd: Array<[string, Attrs]> = [
      ["x".repeat(1_048_576), {}],
      ['{"unterminated": [1, 2', { kind: { DataType: "String", StringValue: "invalid-json" } }],
      ["tab\there\r\nnewline \u007f\u0085\u009f end", { kind: { DataType: "String", StringValue: "control" } }],
      ["grüße — \uFFFD 漢字", binary],
      ["plain", { tenant: { DataType: "String", StringValue: "acme" } }],
    ];
    let t = H1 + 10 * 60_000;
    for (const q of [queues.msg, queues.gz, queues.zst, queues.none]) {
      for (const [body, attrs] of odd) sentIds.push(await sendAt((t += 7), () => backend.send(q, body, attrs)));
    }
    for (let i = 0; i < 9; i++) {
      const extra = { MessageGroupId: `g${i % 3}`, MessageDeduplicationId: `d${i}` };
      sentIds.push(await sendAt((t += 7), () => backend.send(queues.fifo, `fifo #${i}`, { n: { DataType: "Number", StringValue: String(i) } }, extra)));
    }
    await waitFor(async () => (await readAllLines(backend, BUCKET, "raw/")).length >= sentIds.length, 60_000, 250);
    for (const svc of services) svc.child.kill("SIGTERM");
    await Promise.all(services.map((svc) => svc.exited));
    // Duplicates across objects, as a delete that failed after a write leaves them, and objects named by hand.
    const lines = (await readAllLines(backend, BUCKET, "raw/")).map((l) => l.envelope as Envelope);
    const small = lines.filter((e) => e.body.length < 1000);
    await putNdjson(backend, BUCKET, "raw/", small.slice(0, 6), "zstd");
    await putNdjson(backend, BUCKET, "raw/", small.slice(4, 10), "none");
    const hand = `raw/${hourPath(H1)}/copied-by-hand.ndjson.gz`;
    await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: hand, Body: await compress(Buffer.from(small.slice(8, 12).map((e) => JSON.stringify(e)).join("\n") + "\n"), "gzip") }));
    const one = small[1] as Envelope;
    await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `raw/${hourPath(H1)}/restored-${one.messageId}.json`, Body: JSON.stringify(one) }));
  }, 180_000);

  afterAll(async () => {
    for (const svc of services) await ensureDead(svc);
    await backend?.close();
  });

  const puts = () => backend.proxy.s3Writes.filter((w) => w.op === "PutObject").length;

  it("both layouts, every codec, duplicates across objects: each messageId once, every envelope rebuilt exactly; a re-run writes nothing", async () => {
    const raw = await rawById(backend, "raw/", H1);
    expect(raw.size).toBe(sentIds.length);
    expect([...raw.values()].some((d) => d.length > 1), "the window holds duplicates").toBe(true);
    const r = await runCli(["compact", ...window(H1), "--bucket", BUCKET, "--prefix", "raw/", "--settle", "10m"], cliEnv(backend));
    expect(r.code, r.stderr.join("\n") + r.stdout.join("\n")).toBe(0);
    const summary = r.events("compact_summary")[0];
    const rowsIn = [...raw.values()].reduce((n, d) => n + d.length, 0);
    expect(summary).toMatchObject({ hours: 1, hoursWritten: 1, rowsIn, rowsOut: raw.size, duplicatesDropped: rowsIn - raw.size, lateRows: 0, exitCode: 0 });
    expect(r.events("compact_hour")[0]).toMatchObject({ hour: iso(H1), outcome: "written", generation: 1 });

    const files = await readCompacted(backend, BUCKET, "raw-compacted/");
    expect(files.map((f) => f.key)).toEqual([`raw-compacted/${hourPath(H1)}/g000001.parquet`]);
    const f = files[0]!;
    expect(f.manifest).toEqual(f.commit);
    expect(f.commit).toMatchObject({ generation: 1, rowsIn, rowsOut: raw.size, schemaVersion: 1, tool: "sqs-archiver" });
    expect(f.commit.sources.map((s) => s.key).sort()).toEqual((await backend.listKeys(BUCKET, `raw/${hourPath(H1)}/`)).sort());
    for (const name of ["message_id", "body", "md5_of_body", "sent_at", "queue_url", "archived_at", "attributes", "message_attributes", "message_group_id", "message_deduplication_id", "sequence_number", "source_key"]) {
      expect(f.columns.map((c) => c.name)).toContain(name);
    }
    expect(f.columns.find((c) => c.name === "message_attributes")?.type).toContain("binary_value BLOB");
    expectExactlyOnce(f.rows, raw);
    // Ordered by SentTimestamp, then SequenceNumber; the FIFO fields are columns of their own.
    const sent = f.rows.map((x) => x.row.sent_at);
    expect(sent).toEqual([...sent].sort((a, b) => a - b));
    const fifo = f.rows.filter((x) => x.row.message_group_id !== null);
    expect(fifo).toHaveLength(9);
    for (const x of fifo) expect(x.row.sequence_number).toBe(x.envelope.attributes.SequenceNumber);
    expect(f.rows.find((x) => x.row.body.length === 1_048_576)).toBeDefined();

    const before = puts();
    const again = await runCli(["compact", ...window(H1), "--bucket", BUCKET, "--prefix", "raw/"], cliEnv(backend));
    expect(again.code).toBe(0);
    expect(again.events("compact_summary")[0]).toMatchObject({ hoursUpToDate: 1, rowsOut: 0, generationsWritten: 0 });
    expect(puts()).toBe(before);
  }, 120_000);

  it("late data: a second generation holds only the new ids; still exactly once, nothing rewritten", async () => {
    const raw = await rawById(backend, "raw/", H1);
    const old = [...raw.values()].map((d) => d[0]!).filter((e) => e.body.length < 1000);
    const late = [envelope("late-0001", "late one", H1 + 50 * 60_000), envelope("late-0002", "late two \t tab", H1 + 59 * 60_000)];
    await putNdjson(backend, BUCKET, "raw/", [...late, old[0]!], "gzip");
    const g1 = await backend.getText(BUCKET, `raw-compacted/_manifests/${hourPath(H1)}/g000001.json`);
    const r = await runCli(["compact", ...window(H1), "--bucket", BUCKET, "--prefix", "raw/"], cliEnv(backend));
    expect(r.code, r.stdout.join("\n")).toBe(0);
    expect(r.events("compact_summary")[0]).toMatchObject({ hoursWritten: 1, sourcesRead: 1, rowsIn: 3, rowsOut: 2, alreadyCompacted: 1, lateRows: 2 });
    const files = await readCompacted(backend, BUCKET, "raw-compacted/");
    expect(files.map((f) => f.generation)).toEqual([1, 2]);
    expect(files[1]!.rows.map((x) => x.envelope.messageId)).toEqual(["late-0001", "late-0002"]);
    expect(files[1]!.commit.previous).toEqual([files[0]!.key]);
    expectExactlyOnce(allRows(files), await rawById(backend, "raw/", H1));
    expect(await backend.getText(BUCKET, `raw-compacted/_manifests/${hourPath(H1)}/g000001.json`)).toBe(g1);
  }, 60_000);

  it("replay --prefix <compacted prefix> sends exactly what replay from the raw prefix sends (bodies, attributes, once each)", async () => {
    const raw = await rawById(backend, "raw/", H1);
    const replayed = async (prefix: string) => {
      const dst = await backend.createQueue(`replay-${prefix.replace(/\W/g, "")}`);
      const r = await runCli(["replay", ...window(H1), "--to", dst, "--bucket", BUCKET, "--prefix", prefix, "--rate", "0"], cliEnv(backend));
      expect(r.code, r.stdout.join("\n")).toBe(0);
      const got = await receiveAll(backend, dst, raw.size);
      const ids = got.map((m) => m.MessageAttributes?.[PROVENANCE_MESSAGE_ID]?.StringValue).filter(Boolean);
      expect(new Set(ids).size, "each original id once").toBe(ids.length);
      // Messages too large for provenance attributes (1 MiB) are compared by content.
      return got
        .map((m) => JSON.stringify({ id: m.MessageAttributes?.[PROVENANCE_MESSAGE_ID]?.StringValue ?? null, body: m.Body, attrs: plainAttributes(m, [PROVENANCE_MESSAGE_ID, PROVENANCE_SENT_TIMESTAMP]) }))
        .sort();
    };
    const fromRaw = await replayed("raw/");
    const fromCompacted = await replayed("raw-compacted/");
    expect(fromRaw).toHaveLength(raw.size);
    expect(fromCompacted.length).toBe(fromRaw.length);
    for (let i = 0; i < fromRaw.length; i++) expect(fromCompacted[i] === fromRaw[i], `message ${i} identical`).toBe(true);
  }, 90_000);

  it("DuckDB over the compacted Parquet returns exactly the rows of the deduplicating view over the raw archive", async () => {
    const dir = mkdtempSync(join(tmpdir(), "compact-query-"));
    const db = await DuckDBInstance.create(":memory:");
    const con = await db.connect();
    try {
      for (const key of await backend.listKeys(BUCKET)) {
        if (!key.startsWith("raw/") && !key.startsWith("raw-compacted/")) continue;
        mkdirSync(dirname(join(dir, key)), { recursive: true });
        writeFileSync(join(dir, key), await getBytes(backend, BUCKET, key));
      }
      const columns = Object.entries(duckDbColumns()).map(([k, v]) => `'${k}': '${v.replace(/'/g, "''")}'`).join(", ");
      await con.run(
        `CREATE VIEW raw_archive AS SELECT * EXCLUDE (filename), regexp_extract(filename, '(\\d{4}/\\d{2}/\\d{2}/\\d{2})/[^/]*$', 1) AS datehour
         FROM read_ndjson(['${dir}/raw/**/*.json', '${dir}/raw/**/*.ndjson*'], columns = {${columns}}, filename = true)`,
      );
      await con.run(`CREATE VIEW raw_archive_dedup AS ${dedupeViewSelect("raw_archive")}`);
      const dedup = (await con.runAndReadAll("SELECT messageId AS id, body FROM raw_archive_dedup ORDER BY id")).getRowObjectsJson();
      const compacted = (await con.runAndReadAll(`SELECT message_id AS id, body FROM read_parquet('${dir}/raw-compacted/**/*.parquet', hive_partitioning = false) ORDER BY id`)).getRowObjectsJson();
      expect(compacted.length).toBe((await rawById(backend, "raw/", H1)).size);
      expect(compacted).toEqual(dedup);
      // athena-ddl --compacted describes exactly these files: its columns are the Parquet file's, in order.
      const ddl = await runCli(["athena-ddl", "--compacted", "--bucket", BUCKET, "--prefix", "raw/"], cliEnv(backend));
      expect(ddl.code).toBe(0);
      const text = ddl.stdout.join("\n");
      expect(text).toContain("STORED AS PARQUET");
      expect(text).toContain(`LOCATION 's3://${BUCKET}/raw-compacted/'`);
      expect(text).toContain(`'storage.location.template' = 's3://${BUCKET}/raw-compacted/\${datehour}/'`);
      const ddlCols = [...text.matchAll(/^\s+`([a-z_0-9]+)`\s+(\S+?),?$/gm)].map((m) => ({ name: m[1], hive: m[2] }));
      const described = (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${dir}/raw-compacted/**/*.parquet', hive_partitioning = false)`)).getRowObjectsJson();
      expect(ddlCols).toEqual(described.map((d) => ({ name: d.column_name, hive: hiveTypeOf(String(d.column_type)) })));
      // docs/query.md's DuckDB statements for the compacted dataset run as written (paths aside).
      const doc = readFileSync(new URL("../../docs/query.md", import.meta.url), "utf8");
      const section = doc.slice(doc.indexOf("### With DuckDB"), doc.indexOf("\n## DuckDB"));
      const statements = [...section.matchAll(/```sql\n([\s\S]*?)```/g)].flatMap((m) => (m[1] as string).split(/;\s*\n/)).map((x) => x.trim()).filter(Boolean);
      let last: Record<string, unknown>[] = [];
      for (const st of statements) last = (await con.runAndReadAll(st.replace("'compacted/", `'${dir}/raw-compacted/`))).getRowObjectsJson() as Record<string, unknown>[];
      const dedupAcme = (await con.runAndReadAll("SELECT count(*) AS n FROM raw_archive_dedup WHERE messageattributes['tenant'].StringValue = 'acme'")).getRowObjectsJson();
      expect(Number(last[0]?.acme)).toBe(Number(dedupAcme[0]?.n));
      expect(Number(last[0]?.acme)).toBeGreaterThan(0);
      // An attribute filter reads the same rows from both.
      const acme = (sql: string) => con.runAndReadAll(sql).then((r) => r.getRowObjectsJson().map((x) => x.id).sort());
      expect(await acme(`SELECT message_id AS id FROM read_parquet('${dir}/raw-compacted/**/*.parquet') WHERE message_attributes['tenant'].string_value = 'acme'`)).toEqual(
        await acme("SELECT messageId AS id FROM raw_archive_dedup WHERE messageattributes['tenant'].StringValue = 'acme'"),
      );
    } finally {
      con.closeSync();
      db.closeSync();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("--dry-run reports the generation it would write and writes nothing; hours inside --settle are left alone", async () => {
    const h = H1 - 4 * HOUR;
    await putNdjson(backend, BUCKET, "dry/", [envelope("dry-1", "d1", h + 1), envelope("dry-2", "d2", h + 2), envelope("dry-1", "d1", h + 1)], "gzip");
    const before = puts();
    const r = await runCli(["compact", ...window(h), "--bucket", BUCKET, "--prefix", "dry/", "--dry-run"], cliEnv(backend));
    expect(r.code).toBe(0);
    expect(r.events("compact_hour")[0]).toMatchObject({ outcome: "dry_run", generation: 1, rowsIn: 3, rowsOut: 2, duplicatesDropped: 1, key: `dry-compacted/${hourPath(h)}/g000001.parquet` });
    expect(r.events("compact_summary")[0]).toMatchObject({ dryRun: true, rowsOut: 2, generationsWritten: 0 });
    expect(puts()).toBe(before);
    expect(await backend.listKeys(BUCKET, "dry-compacted/")).toEqual([]);
    // The hour ended 6-7 h ago: with --settle 8h it is too recent to compact.
    const s = await runCli(["compact", ...window(h), "--bucket", BUCKET, "--prefix", "dry/", "--settle", "8h"], cliEnv(backend));
    expect(s.code).toBe(0);
    expect(s.events("compact_summary")[0]).toMatchObject({ hours: 0, hoursUnsettled: 1 });
    expect(await backend.listKeys(BUCKET, "dry-compacted/")).toEqual([]);
  }, 60_000);

  it("an integrity conflict (same messageId, different body) names the id, exits 1 and leaves the hour untouched", async () => {
    const h = H1 - HOUR;
    const a = envelope("conflict-1", "body A", h + 1000);
    const b = { ...envelope("conflict-1", "body B", h + 1000) };
    await putNdjson(backend, BUCKET, "cf/", [a, envelope("fine-1", "fine", h + 2000)], "gzip");
    await putNdjson(backend, BUCKET, "cf/", [b], "zstd");
    const r = await runCli(["compact", ...window(h), "--bucket", BUCKET, "--prefix", "cf/"], cliEnv(backend));
    expect(r.code).toBe(1);
    expect(r.events("compact_hour")[0]).toMatchObject({ outcome: "conflict", conflictIds: ["conflict-1"] });
    expect(r.stdout.join("\n")).toContain("conflict-1");
    expect(await backend.listKeys(BUCKET, "cf-compacted/")).toEqual([]);
  }, 60_000);

  it("kill -9 between the Parquet commit and its manifest, and mid-run: a re-run ends exactly once", async () => {
    const h = H1 - 2 * HOUR;
    const envs = Array.from({ length: 3000 }, (_, i) => envelope(`k-${String(i).padStart(5, "0")}`, `kill body ${i} ${"y".repeat(200)}`, h + i * 1000));
    for (let i = 0; i < envs.length; i += 500) await putNdjson(backend, BUCKET, "kill/", envs.slice(i, i + 600), i % 1000 ? "zstd" : "gzip");
    const raw = await rawById(backend, "kill/", h);
    // 1: killed at a random moment of the run.
    const first = spawnCli(["compact", ...window(h), "--bucket", BUCKET, "--prefix", "kill/"], cliEnv(backend));
    await waitFor(() => first.stdout.some((l) => l.includes("compact_start")), 20_000, 10);
    await new Promise((res) => setTimeout(res, 150));
    first.child.kill("SIGKILL");
    await first.exited;
    // 2: the manifest write hangs (the Parquet file is already written): killed there.
    backend.proxy.setFaults([{ match: (op) => op.name === "PutObject" && (op.key ?? "").includes("/_manifests/"), action: { kind: "hang" }, times: 1 }]);
    const second = spawnCli(["compact", ...window(h), "--bucket", BUCKET, "--prefix", "kill/"], cliEnv(backend));
    await waitFor(async () => (await backend.listKeys(BUCKET, "kill-compacted/")).some((k) => k.endsWith(".parquet")), 60_000, 50);
    await new Promise((res) => setTimeout(res, 300));
    second.child.kill("SIGKILL");
    await second.exited;
    backend.proxy.clearFaults();
    expect(await backend.listKeys(BUCKET, "kill-compacted/_manifests/")).toEqual([]);
    const third = await runCli(["compact", ...window(h), "--bucket", BUCKET, "--prefix", "kill/"], cliEnv(backend));
    expect(third.code, third.stdout.join("\n")).toBe(0);
    expect(third.events("compact_hour")[0]).toMatchObject({ outcome: "up_to_date", manifestsRepaired: 1 });
    const files = await readCompacted(backend, BUCKET, "kill-compacted/");
    expect(files).toHaveLength(1);
    expect(files[0]!.manifest).toEqual(files[0]!.commit);
    expectExactlyOnce(allRows(files), raw);
  }, 120_000);

  it("two compactors racing on the same hour: exactly once (the loser of the 412 reads the hour again)", async () => {
    const h = H1 - 3 * HOUR;
    const envs = Array.from({ length: 400 }, (_, i) => envelope(`r-${String(i).padStart(4, "0")}`, `race ${i}`, h + i * 5000));
    await putNdjson(backend, BUCKET, "race/", envs.slice(0, 250), "gzip");
    await putNdjson(backend, BUCKET, "race/", envs.slice(200), "zstd");
    // Slow listings (answered late, acted on at once), so both have read the empty state before either commits.
    backend.proxy.setLatency({ ListObjectsV2: 1500 });
    try {
      const [a, b] = await Promise.all([0, 1].map(() => runCli(["compact", ...window(h), "--bucket", BUCKET, "--prefix", "race/"], cliEnv(backend))));
      expect([a!.code, b!.code]).toEqual([0, 0]);
      const lost = [...a!.events("generation_race_lost"), ...b!.events("generation_race_lost")];
      expect(lost.length).toBe(1);
    } finally {
      backend.proxy.setLatency({});
    }
    const files = await readCompacted(backend, BUCKET, "race-compacted/");
    expect(files.map((f) => f.generation)).toEqual([1]);
    expectExactlyOnce(allRows(files), await rawById(backend, "race/", h));
  }, 120_000);
});
