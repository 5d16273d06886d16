#!/usr/bin/env node
// Compaction throughput and memory: `sqs-archiver compact` (the real CLI process) over one hour of N batched 1 KiB
// messages (gzip NDJSON objects written straight into the emulator's S3 with the service's own key and envelope
// functions; a tenth of them repeated in a second object, as a failed delete leaves them), then DuckDB's bytes read
// for one message-attribute filter over the raw objects and over the Parquet.
// Run by `npm run bench` (section "compact") or alone after `npm run build`: node bench/compact.mjs [--n N] [--quick]
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request, createServer } from "node:http";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzip } from "node:zlib";
import { promisify } from "node:util";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { procCpu, procMem, sleep, startBackend } from "./lib.mjs";
import { buildBatchKey, hourStart } from "../dist/archive/format.js";
import { md5Hex } from "../dist/archive/envelope.js";

const gz = promisify(gzip);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = fileURLToPath(new URL("./out/compact/", import.meta.url));
const { values: opt } = parseArgs({
  options: {
    n: { type: "string", default: "1000000" },
    "batch-size": { type: "string", default: "10000" },
    "memory-limit": { type: "string", default: "256MB" },
    threads: { type: "string", default: "" },
    quick: { type: "boolean", default: false },
  },
});
const N = opt.quick ? 20_000 : Number(opt.n);
const BATCH = Number(opt["batch-size"]);
const BUCKET = "compact-bench";
const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/000000000000/orders";
const HOUR = 3_600_000;
const HOUR_MS = hourStart(Date.now()) - 2 * HOUR;
const TENANTS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "tyrell", "cyberdyne"];
const WORDS = "order shipped paid refund pending express standard warehouse north south east west blue red green small large item sku cart promo gift".split(" ");

// A 1 KiB order-like JSON body: a random id and words drawn pseudo-randomly, so it compresses like real payloads
// (roughly 3-4x), not like a run of one character.
function body(i) {
  let s = `{"orderId":"${randomUUID()}","seq":${i},"customer":"c-${(i * 7919) % 100_000}","amount":${((i * 31) % 100_000) / 100},"note":"`;
  let x = i * 2654435761;
  while (s.length < 1000) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += `${WORDS[x % WORDS.length]}${x % 7 === 0 ? ` ${x % 10_000}` : ""} `;
  }
  return `${s.slice(0, 1020)}"}`;
}

function envelope(i, sentMs) {
  const b = body(i);
  return {
    schemaVersion: 1,
    messageId: randomUUID(),
    queueUrl: QUEUE_URL,
    body: b,
    md5OfBody: md5Hex(b),
    attributes: { ApproximateFirstReceiveTimestamp: String(sentMs + 5), ApproximateReceiveCount: "1", SenderId: "AIDABENCH", SentTimestamp: String(sentMs) },
    messageAttributes: {
      tenant: { DataType: "String", StringValue: TENANTS[i % TENANTS.length] },
      traceId: { DataType: "String", StringValue: createHash("md5").update(String(i)).digest("hex").slice(0, 16) },
    },
    sentAt: new Date(sentMs).toISOString(),
    archivedAt: new Date(sentMs + 6).toISOString(),
  };
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(join(OUT, "raw"), { recursive: true });
mkdirSync(join(OUT, "parquet"), { recursive: true });
const backend = await startBackend({ latency: {}, conditionalWrites: false });
await backend.call("createBucket", { name: BUCKET });

// The emulator refuses bodies above ~10 MiB: a Parquet generation of a 1M-message hour goes to a local file instead,
// through this forwarder (everything else passes to the emulator unchanged).
let parquetBytes = 0;
const upstream = new URL(backend.emulator);
const forwarder = createServer((req, res) => {
  if (req.method === "PUT" && /-compacted\/\d{4}\//.test(req.url ?? "")) {
    const file = join(OUT, "parquet", `g${Date.now()}.parquet`);
    const ws = createWriteStream(file);
    req.on("data", (c) => (parquetBytes += c.length));
    req.pipe(ws).on("finish", () => {
      res.writeHead(200, { ETag: '"bench"', "Content-Length": "0" });
      res.end();
    });
    return;
  }
  const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
    res.writeHead(r.statusCode ?? 500, r.headers);
    r.pipe(res);
  });
  req.pipe(up);
});
await new Promise((r) => forwarder.listen(0, "127.0.0.1", r));
const endpoint = `http://127.0.0.1:${forwarder.address().port}`;

// The raw hour: N messages in BATCH-message gzip objects, plus a tenth repeated in extra objects.
const t0 = performance.now();
let gzBytes = 0;
let rawJsonBytes = 0;
let rawObjects = 0;
const dupes = [];
for (let i = 0; i < N; i += BATCH) {
  const n = Math.min(BATCH, N - i);
  const envs = Array.from({ length: n }, (_, j) => envelope(i + j, HOUR_MS + Math.floor(((i + j) * HOUR) / N)));
  dupes.push(...envs.slice(0, Math.floor(n / 10)));
  const put = async (batch) => {
    const text = Buffer.from(batch.map((e) => JSON.stringify(e)).join("\n") + "\n");
    const data = await gz(text, { level: 6 });
    const key = buildBatchKey("raw/", Number(batch[0].attributes.SentTimestamp), batch.map((e) => e.messageId), "gzip");
    writeFileSync(join(OUT, "raw", `${rawObjects}.ndjson.gz`), data);
    gzBytes += data.length;
    rawJsonBytes += text.length;
    rawObjects++;
    await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: data, ContentType: "application/x-ndjson" }));
  };
  await put(envs);
  if (dupes.length >= BATCH) await put(dupes.splice(0));
}
if (dupes.length) {
  const batch = dupes.splice(0);
  const text = Buffer.from(batch.map((e) => JSON.stringify(e)).join("\n") + "\n");
  const data = await gz(text);
  writeFileSync(join(OUT, "raw", `${rawObjects++}.ndjson.gz`), data);
  gzBytes += data.length;
  rawJsonBytes += text.length;
  await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: buildBatchKey("raw/", Number(batch[0].attributes.SentTimestamp), batch.map((e) => e.messageId), "gzip"), Body: data }));
}
const genSeconds = (performance.now() - t0) / 1000;

// The compaction, as the CronJob runs it.
const args = ["dist/cli/cli.js", "compact", "--since", new Date(HOUR_MS).toISOString(), "--until", new Date(HOUR_MS + HOUR).toISOString(), "--bucket", BUCKET, "--prefix", "raw/", "--memory-limit", opt["memory-limit"], ...(opt.threads ? ["--threads", opt.threads] : [])];
const env = {
  PATH: process.env.PATH,
  HOME: os.tmpdir(),
  AWS_REGION: "us-east-1",
  AWS_ENDPOINT_URL: endpoint,
  S3_FORCE_PATH_STYLE: "true",
  AWS_ACCESS_KEY_ID: "bench",
  AWS_SECRET_ACCESS_KEY: "bench",
  AWS_EC2_METADATA_DISABLED: "true",
  COMPACT_SPILL_DIR: join(OUT, "spill"),
  LOG_LEVEL: "info",
  // As the container image runs it (Dockerfile NODE_OPTIONS).
  NODE_OPTIONS: "--max-semi-space-size=8",
};
const w0 = performance.now();
const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "inherit"] });
let stdout = "";
child.stdout.on("data", (c) => (stdout += c));
let peak = 0;
let cpu = 0;
const timeline = [];
const sampler = setInterval(() => {
  const m = procMem(child.pid);
  if (Number.isFinite(m.hwm)) peak = Math.max(peak, m.hwm);
  if (Number.isFinite(m.rss)) timeline.push([performance.now() - w0, m.rss]);
  const c = procCpu(child.pid);
  if (Number.isFinite(c)) cpu = c;
}, 100);
const code = await new Promise((r) => child.on("close", r));
clearInterval(sampler);
const wall = (performance.now() - w0) / 1000;
forwarder.close();
await backend.close();
const summary = stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === "compact_summary");
if (code !== 0 || !summary) throw new Error(`compact exited ${code}:\n${stdout.slice(-3000)}`);

// One message-attribute filter, raw gzip NDJSON vs Parquet, bytes read by DuckDB (rchar of this process).
const rchar = () => Number(/rchar:\s+(\d+)/.exec(readFileSync("/proc/self/io", "utf8"))?.[1]);
const db = await DuckDBInstance.create(":memory:");
const con = await db.connect();
const query = async (sql) => {
  const before = rchar();
  const t = performance.now();
  const rows = (await con.runAndReadAll(sql)).getRows();
  return { bytes: rchar() - before, ms: performance.now() - t, count: Number(rows[0][0]) };
};
const rawQ = await query(
  `SELECT count(DISTINCT messageId) FROM read_ndjson('${OUT}raw/*.ndjson.gz', columns = {messageId: 'VARCHAR', messageAttributes: 'MAP(VARCHAR, STRUCT("DataType" VARCHAR, "StringValue" VARCHAR, "BinaryValue" VARCHAR))'}) WHERE messageAttributes['tenant'].StringValue = 'acme'`,
);
const pqQ = await query(`SELECT count(DISTINCT message_id) FROM read_parquet('${OUT}parquet/*.parquet') WHERE message_attributes['tenant'].string_value = 'acme'`);
con.closeSync();
db.closeSync();

const mb = (b) => (b / 1048576).toFixed(1);
const cores = cpu > 0 ? cpu : NaN;
const lines = [
  `### compaction: one hour of ${N.toLocaleString("en")} batched 1 KiB messages (+${(summary.rowsIn - N).toLocaleString("en")} duplicates), ${rawObjects} gzip NDJSON objects`,
  "",
  `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}; load average at start of compaction ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}; input generated in ${genSeconds.toFixed(0)} s`,
  "",
  "| measure | value | target |",
  "|---|---|---|",
  `| rows in / out / duplicates dropped | ${summary.rowsIn} / ${summary.rowsOut} / ${summary.duplicatesDropped} | each id once |`,
  `| wall time | ${wall.toFixed(1)} s | |`,
  `| CPU time (user+sys, all threads) | ${cores.toFixed(1)} s | |`,
  `| msg/s per core (rows in / CPU s) | ${Math.round(summary.rowsIn / cores).toLocaleString("en")} | ≥ 50,000 |`,
  `| MB/s per core (uncompressed NDJSON in / CPU s) | ${(rawJsonBytes / 1048576 / cores).toFixed(1)} | |`,
  `| msg/s wall | ${Math.round(summary.rowsIn / wall).toLocaleString("en")} | |`,
  `| peak RSS (VmHWM of the CLI process, DuckDB memory_limit ${opt["memory-limit"]}) | ${mb(peak)} MB | ≤ 512 MB |`,
  `| gzip NDJSON bytes (input, duplicates included) | ${mb(gzBytes)} MB | |`,
  `| Parquet zstd bytes (output) | ${mb(parquetBytes)} MB (${((parquetBytes / gzBytes) * 100).toFixed(0)}% of gzip NDJSON) | ≤ gzip NDJSON |`,
  `| attribute filter (tenant = acme): bytes read, raw gzip NDJSON | ${mb(rawQ.bytes)} MB in ${(rawQ.ms / 1000).toFixed(1)} s (${rawQ.count} ids) | |`,
  `| attribute filter: bytes read, Parquet | ${mb(pqQ.bytes)} MB in ${(pqQ.ms / 1000).toFixed(2)} s (${pqQ.count} ids) | |`,
  `| ratio raw / Parquet bytes read | ${(rawQ.bytes / pqQ.bytes).toFixed(1)}× | ≥ 5× |`,
];
console.log(lines.join("\n"));
const phases = stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === "compact_hour")?.ms;
console.log(JSON.stringify(phases));
if (phases) {
  const readEnd = timeline.length ? timeline[timeline.length - 1][0] - (phases.engine + phases.write) : 0;
  const peakOf = (f) => Math.max(0, ...timeline.filter(f).map((x) => x[1])) / 1048576;
  console.log(`peak RSS while reading sources ${peakOf((x) => x[0] < readEnd).toFixed(0)} MB, in DuckDB ${peakOf((x) => x[0] >= readEnd).toFixed(0)} MB`);
}
writeFileSync(join(OUT, "..", `compact-${new Date().toISOString().replace(/[:.]/g, "-")}.md`), lines.join("\n") + "\n");
rmSync(join(OUT, "spill"), { recursive: true, force: true });
await sleep(0);
