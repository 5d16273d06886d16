/**
 * The Athena DDL checked on DuckDB: the column schema parsed from the printed CREATE EXTERNAL TABLE reads real
 * archive objects (written by the service, and NDJSON objects as the batched writer lays them out), and the printed
 * dedupe view runs unchanged and keeps one row per messageId.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import type { MessageAttributeValue } from "@aws-sdk/client-sqs";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Envelope } from "../../src/archive/envelope.js";
import { hourPath } from "../../src/archive/format.js";
import { ARCHIVE_COLUMNS, athenaDdl, duckDbColumns } from "../../src/replay/athena.js";
import { startBackend, waitFor, type Backend } from "../support/harness.js";
import { assertBuilt, ensureDead, serviceEnv, spawnService, type ChildService } from "../support/process.js";
import { readAllLines } from "../support/archive-reader.js";
import { putNdjson, runCli } from "./helpers.js";

const BUCKET = "query-archive";

/** Column names and types from the DDL text itself. */
function ddlColumns(ddl: string): Array<{ name: string; hive: string }> {
  const body = /CREATE EXTERNAL TABLE[^(]*\(\n([\s\S]*?)\n\)\nPARTITIONED BY/.exec(ddl)?.[1] ?? "";
  return body.split("\n").map((line) => {
    const m = /^\s*`([a-z0-9_]+)`\s+(.+?),?$/.exec(line);
    if (!m) throw new Error(`unparsed column line ${line}`);
    return { name: m[1] as string, hive: m[2] as string };
  });
}

function viewStatement(ddl: string): string {
  const m = /CREATE OR REPLACE VIEW[\s\S]*?;/.exec(ddl);
  if (!m) throw new Error("no view");
  return m[0].replace(/`/g, '"');
}

describe("Athena DDL on DuckDB over real archive objects, both layouts", () => {
  let backend: Backend;
  const svcs: ChildService[] = [];
  let db: DuckDBInstance;
  let con: DuckDBConnection;
  const dir = mkdtempSync(join(tmpdir(), "archive-query-"));
  const sentMsg: Array<{ id: string; body: string; attrs: Record<string, MessageAttributeValue> }> = [];
  const sent = sentMsg;
  const sentNd: typeof sent = [];

  beforeAll(async () => {
    assertBuilt();
    backend = await startBackend();
    backend.createBucket(BUCKET);
    const q = await backend.createQueue("query-src");
    const qNd = await backend.createQueue("query-src-nd");
    const common = { S3_BUCKET_NAME: BUCKET, CONCURRENCY: "1", LOG_LEVEL: "warn" };
    svcs.push(
      spawnService(serviceEnv(backend, { ...common, SQS_QUEUE_URL: q, S3_PREFIX: "msg/" })),
      spawnService(serviceEnv(backend, { ...common, SQS_QUEUE_URL: qNd, S3_PREFIX: "nd/", ARCHIVE_FORMAT: "ndjson", BATCH_MAX_SECONDS: "1" })),
    );
    for (let i = 0; i < 6; i++) {
      const attrs: Record<string, MessageAttributeValue> = {
        tenant: { DataType: "String", StringValue: i % 2 ? "acme" : "other" },
        blob: { DataType: "Binary", BinaryValue: new Uint8Array([i, 0, 255]) },
      };
      const body = i === 0 ? '{"not json' : `{"order":${i},"note":"tab\\there ü"}`;
      sent.push({ id: await backend.send(q, body, attrs), body, attrs });
      sentNd.push({ id: await backend.send(qNd, body, attrs), body, attrs });
    }
    await waitFor(
      async () => (await readAllLines(backend, BUCKET, "msg/")).length === sent.length && (await readAllLines(backend, BUCKET, "nd/")).length === sent.length,
      30_000,
      200,
    );
    for (const svc of svcs) svc.child.kill("SIGTERM");
    await Promise.all(svcs.map((svc) => svc.exited));
    const ndEnvelopes = (await readAllLines(backend, BUCKET, "nd/")).map((l) => l.envelope as Envelope);
    ndEnvelopes.sort((a, b) => Number(a.attributes.SentTimestamp) - Number(b.attributes.SentTimestamp));
    // The service's gzip objects plus a zstd object repeating one message (a delete that failed after a write).
    await putNdjson(backend, BUCKET, "nd/", ndEnvelopes.slice(2, 3), "zstd");
    for (const key of await backend.listKeys(BUCKET)) {
      const out = await backend.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      const file = join(dir, key);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, await out.Body?.transformToByteArray() as Uint8Array);
    }
    db = await DuckDBInstance.create(":memory:");
    con = await db.connect();
  }, 90_000);

  afterAll(async () => {
    for (const svc of svcs) await ensureDead(svc);
    con?.closeSync();
    await backend?.close();
  });

  // DuckDB binds identifiers case-insensitively but reports the source's spelling (messageId): compare lower-cased.
  const rows = async (sql: string) =>
    ((await con.runAndReadAll(sql)).getRowObjectsJson() as Array<Record<string, any>>).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toLowerCase(), v])));

  it.each([
    ["message", "msg/", ["**/*.json"], 6],
    ["ndjson", "nd/", ["**/*.ndjson.gz", "**/*.ndjson.zst"], 7],
  ] as const)("%s layout: the DDL's columns read every line; the view keeps one row per messageId", async (format, prefix, globs, lines) => {
    const sent = format === "message" ? sentMsg : sentNd;
    const table = `archive_${format}`;
    const ddl = athenaDdl({ bucket: BUCKET, prefix, format, table, rangeStart: "2006/01/01/00" });
    const cols = ddlColumns(ddl);
    expect(cols).toEqual(ARCHIVE_COLUMNS.map((c) => ({ name: c.name, hive: c.hive })));
    expect(ddl).toMatch(/'projection\.datehour\.type' = 'date'/);
    expect(ddl).toMatch(/'projection\.datehour\.format' = 'yyyy\/MM\/dd\/HH'/);
    expect(ddl).toMatch(/'projection\.datehour\.interval\.unit' = 'HOURS'/);
    expect(ddl).toContain(`'storage.location.template' = 's3://${BUCKET}/${prefix}\${datehour}/'`);
    expect(ddl).toContain("org.openx.data.jsonserde.JsonSerDe");
    const files = globs.map((g) => `'${join(dir, prefix, g)}'`).join(", ");
    const columns = Object.entries(duckDbColumns(cols)).map(([k, v]) => `'${k}': '${v.replace(/'/g, "''")}'`).join(", ");
    await con.run(
      `CREATE OR REPLACE VIEW ${table} AS SELECT * EXCLUDE (filename), regexp_extract(filename, '(\\d{4}/\\d{2}/\\d{2}/\\d{2})/[^/]*$', 1) AS datehour
       FROM read_ndjson([${files}], columns = {${columns}}, filename = true)`,
    );
    const all = await rows(`SELECT * FROM ${table}`);
    expect(all).toHaveLength(lines);
    await con.run(viewStatement(ddl));
    const dedup = await rows(`SELECT * FROM ${table}_dedup ORDER BY sentat`);
    expect(dedup).toHaveLength(sent.length);
    expect(Object.keys(dedup[0] ?? {})).toEqual([...ARCHIVE_COLUMNS.map((c) => c.name), "datehour"]);
    for (const s of sent) {
      const r = dedup.find((x) => x.messageid === s.id) as Record<string, any>;
      expect(r.body).toBe(s.body);
      expect(r.schemaversion).toBe(1);
      expect(r.datehour).toBe(hourPath(Date.parse(r.sentat)));
    }
    // Nested fields are queried with the DDL's lower-case names, as in Athena.
    const q = await rows(
      `SELECT messageid, messageattributes['blob'].binaryvalue AS blob, messageattributes['tenant'].stringvalue AS tenant, attributes['SentTimestamp'] AS ts
       FROM ${table}_dedup WHERE messageattributes['tenant'].stringvalue = 'acme' AND datehour >= '2006/01/01/00'`,
    );
    expect(q.map((r) => r.messageid).sort()).toEqual(sent.filter((s) => s.attrs.tenant?.StringValue === "acme").map((s) => s.id).sort());
    for (const r of q) {
      const s = sent.find((x) => x.id === r.messageid);
      expect(Buffer.from(r.blob, "base64")).toEqual(Buffer.from(s?.attrs.blob?.BinaryValue as Uint8Array));
      expect(Number(r.ts)).toBeGreaterThan(0);
    }
  });

  it("docs/query.md's DuckDB statements run as written over the archive (paths aside) and agree with the DDL", async () => {
    const doc = readFileSync(new URL("../../docs/query.md", import.meta.url), "utf8");
    const duck = doc.slice(doc.indexOf("## DuckDB"));
    const blocks = [...duck.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    const statements = blocks
      .join("\n")
      .split(/;\s*\n/)
      .map((x) => x.replace(/^\s*--.*$/gm, "").trim())
      .filter((x) => x && !x.startsWith("COPY"));
    const ddl = athenaDdl({ bucket: BUCKET, prefix: "nd/", format: "ndjson", table: "orders_archive", rangeStart: "2006/01/01/00" });
    // The doc's view is the printed one.
    expect(statements.find((x) => x.includes("VIEW orders_archive_dedup"))?.replace(/\s+/g, " ")).toBe(viewStatement(ddl).replace(/"/g, "").replace(/;$/, "").replace(/\s+/g, " "));
    expect(statements.find((x) => x.includes("read_ndjson"))).toContain(Object.entries(duckDbColumns()).map(([k, v]) => `'${k}': '${v}'`).join(",\n    "));
    let last: Array<Record<string, any>> = [];
    for (const st of statements) last = await rows(st.replaceAll("archive/sqs-messages/", `${dir}/nd/`));
    expect(last.reduce((n, r) => n + Number(r.messages), 0)).toBe(sentNd.length);
    const acme = await rows("SELECT count(*) AS n FROM orders_archive_dedup WHERE messageattributes['tenant'].stringvalue = 'acme'");
    expect(Number(acme[0]?.n)).toBe(sentNd.filter((s) => s.attrs.tenant?.StringValue === "acme").length);
  });

  it("`sqs-archiver athena-ddl` prints the DDL; bad flags exit 2", async () => {
    const r = await runCli(["athena-ddl", "--bucket", BUCKET, "--prefix", "nd/", "--format", "ndjson", "--table", "orders_archive"], { PATH: process.env.PATH });
    expect(r.code).toBe(0);
    const out = r.stdout.join("\n");
    expect(out).toContain("CREATE EXTERNAL TABLE IF NOT EXISTS `orders_archive`");
    expect(out).toContain("CREATE OR REPLACE VIEW `orders_archive_dedup`");
    expect((await runCli(["athena-ddl", "--bucket", BUCKET, "--format", "parquet"], { PATH: process.env.PATH })).code).toBe(2);
    expect((await runCli(["athena-ddl"], { PATH: process.env.PATH })).code).toBe(78);
  });
});
