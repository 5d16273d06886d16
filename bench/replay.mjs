#!/usr/bin/env node
// Replay throughput: `sqs-archiver replay --rate 0` (the real CLI process) reading archive objects from the emulator
// through the same latency-injecting proxy as the service benchmark, sending to a fresh queue through it too.
// Run by `npm run bench` (section "replay") or alone after `npm run build`: node bench/replay.mjs [--quick]
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { makeBody, procCpu, queueDepth, sleep, startBackend } from "./lib.mjs";
import { buildBatchKey, hourPath } from "../dist/archive/format.js";
import { buildKey } from "../dist/archive/key.js";
import { md5Hex } from "../dist/archive/envelope.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = fileURLToPath(new URL("./out/", import.meta.url));
const { values: opt } = parseArgs({
  options: {
    "message-n": { type: "string", default: "5000" },
    "ndjson-n": { type: "string", default: "50000" },
    "batch-size": { type: "string", default: "10000" },
    sqs: { type: "string", default: process.env.BENCH_SQS_MS ?? "10" },
    put: { type: "string", default: process.env.BENCH_PUT_MS ?? "25" },
    get: { type: "string", default: "20" },
    concurrency: { type: "string", default: "" },
    quick: { type: "boolean", default: false },
    only: { type: "string", default: "" },
    "cpu-prof": { type: "string", default: "" },
  },
});
const MESSAGE_N = opt.quick ? 1000 : Number(opt["message-n"]);
const NDJSON_N = opt.quick ? 10000 : Number(opt["ndjson-n"]);
const BATCH = Number(opt["batch-size"]);
const LATENCY = { sqs: Number(opt.sqs), PutObject: Number(opt.put) };
const BUCKET = "replay-bench";
const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/000000000000/replay-bench-source";

function envelope(i, sentMs) {
  const body = makeBody(1024, i);
  return {
    schemaVersion: 1,
    messageId: randomUUID(),
    queueUrl: QUEUE_URL,
    body,
    md5OfBody: md5Hex(body),
    attributes: { ApproximateFirstReceiveTimestamp: String(sentMs + 5), ApproximateReceiveCount: "1", SenderId: "AIDABENCH", SentTimestamp: String(sentMs) },
    messageAttributes: { traceId: { DataType: "String", StringValue: `t-${i}` }, blob: { DataType: "Binary", BinaryValue: Buffer.from([i & 255, 0, 255]).toString("base64") } },
    sentAt: new Date(sentMs).toISOString(),
    archivedAt: new Date(sentMs + 6).toISOString(),
  };
}

async function parallel(n, items, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

const backend = await startBackend({ latency: LATENCY, conditionalWrites: false });
await backend.call("createBucket", { name: BUCKET });
const base = Date.now() - 30 * 60_000;

// Archive objects straight into the emulator (not through the proxy): one object per message, and NDJSON batches.
const msgEnvelopes = Array.from({ length: MESSAGE_N }, (_, i) => envelope(i, base + i));
await parallel(32, msgEnvelopes, (e) =>
  backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: buildKey("message/", e.messageId, Number(e.attributes.SentTimestamp)), Body: JSON.stringify(e), ContentType: "application/json" })),
);
const ndEnvelopes = Array.from({ length: NDJSON_N }, (_, i) => envelope(i, base + i));
const batches = [];
for (let i = 0; i < ndEnvelopes.length; i += BATCH) batches.push(ndEnvelopes.slice(i, i + BATCH));
let ndBytes = 0;
for (const b of batches) {
  const gz = gzipSync(Buffer.from(b.map((e) => JSON.stringify(e)).join("\n") + "\n"));
  ndBytes += gz.length;
  const key = buildBatchKey("ndjson/", Number(b[0].attributes.SentTimestamp), b.map((e) => e.messageId), "gzip");
  await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gz, ContentType: "application/x-ndjson" }));
}

let runs = 0;
async function replay({ label, prefix, n, concurrency, latency }) {
  await backend.call("setLatency", { latency });
  const { queueUrl } = await backend.call("createQueue", { name: `replay-bench-${++runs}` });
  const args = [`${ROOT}dist/cli/cli.js`, "replay", "--since", new Date(base - 3_600_000).toISOString(), "--until", new Date(base + 3_600_000).toISOString(), "--to", queueUrl, "--bucket", BUCKET, "--prefix", prefix, "--rate", "0"];
  if (concurrency) args.push("--concurrency", String(concurrency));
  const t0 = performance.now();
  const nodeArgs = opt["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${opt["cpu-prof"]}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AWS_REGION: "us-east-1", AWS_ENDPOINT_URL: backend.proxy, S3_FORCE_PATH_STYLE: "true", AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench", AWS_EC2_METADATA_DISABLED: "true", LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout.on("data", (b) => (stdout += b));
  let cpu = 0;
  let backendCpu0 = procCpu(backend.pid);
  const sampler = setInterval(() => {
    const c = procCpu(child.pid);
    if (c) cpu = c;
  }, 100);
  const code = await new Promise((r) => child.on("exit", r));
  const wall = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const backendCpu = procCpu(backend.pid) - backendCpu0;
  const summary = stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === "replay_summary");
  await sleep(200);
  const delivered = await queueDepth(backend.sqs, queueUrl);
  const r = { label, prefix, n, code, wall, engineSeconds: summary.durationMs / 1000, sent: summary.sent, rateWall: summary.sent / wall, rateEngine: summary.messagesPerSecond, cpuSeconds: cpu, backendCpuSeconds: backendCpu, sqsRequests: summary.sqsRequests, s3Requests: summary.s3Requests, delivered, concurrency: concurrency || 16, latency };
  if (code !== 0 || summary.sent !== n || delivered !== n) console.error(`replay run ${label}: exit ${code}, sent ${summary.sent}, in queue ${delivered}, expected ${n}`);
  await backend.call("reset", { queues: [] });
  await backend.call("createBucket", { name: BUCKET });
  return r;
}

// reset() drops objects too: re-create the archive before each run.
async function refill(kind) {
  if (kind === "message") {
    await parallel(32, msgEnvelopes, (e) =>
      backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: buildKey("message/", e.messageId, Number(e.attributes.SentTimestamp)), Body: JSON.stringify(e) })),
    );
  } else {
    for (const b of batches) {
      const gz = gzipSync(Buffer.from(b.map((e) => JSON.stringify(e)).join("\n") + "\n"));
      await backend.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: buildBatchKey("ndjson/", Number(b[0].attributes.SentTimestamp), b.map((e) => e.messageId), "gzip"), Body: gz }));
    }
  }
}

const results = [];
const withGet = { ...LATENCY, GetObject: Number(opt.get) };
const plan = [
  { label: "message layout (1 GetObject per message)", kind: "message", prefix: "message/", n: MESSAGE_N, latency: LATENCY },
  { label: `message layout, GetObject +${opt.get} ms`, kind: "message", prefix: "message/", n: MESSAGE_N, latency: withGet },
  { label: "message layout, GetObject +20 ms, --concurrency 64", kind: "message", prefix: "message/", n: MESSAGE_N, latency: withGet, concurrency: 64 },
  { label: `ndjson.gz layout (${BATCH.toLocaleString("en-US")} per object)`, kind: "ndjson", prefix: "ndjson/", n: NDJSON_N, latency: LATENCY },
  { label: `ndjson.gz layout, GetObject +${opt.get} ms`, kind: "ndjson", prefix: "ndjson/", n: NDJSON_N, latency: withGet },
];
if (opt.concurrency) for (const p of plan) p.concurrency = Number(opt.concurrency);
if (opt.only) plan.splice(0, plan.length, ...plan.filter((p, i) => opt.only.split(",").includes(String(i))));
try {
  let first = true;
  for (const p of plan) {
    if (!first) await refill(p.kind);
    first = false;
    results.push(await replay(p));
  }
} finally {
  await backend.close();
}

const fmt = (x, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const out = [];
out.push("## Replay throughput (`sqs-archiver replay --rate 0`)");
out.push("");
out.push(`The CLI as its own process, reading through the latency proxy (SQS ${LATENCY.sqs} ms per call; GetObject +0 ms unless stated) and sending SendMessageBatch to a fresh queue through it; 1 KiB bodies with two attributes (String, Binary); ${os.availableParallelism()} cores, load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}. msg/s over the process's whole life (start-up and listing included) and over the replay itself (engine).`);
out.push("");
out.push("| run | messages | objects read | SendMessageBatch | concurrency | wall s | msg/s (process) | msg/s (engine) | CLI CPU s | CPU ms / 1k msg |");
out.push("|---|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  out.push(`| ${r.label} | ${fmt(r.sent)} | ${fmt(r.s3Requests)} req | ${fmt(r.sqsRequests)} | ${r.concurrency} | ${fmt(r.wall, 1)} | ${fmt(r.rateWall)} | ${fmt(r.rateEngine)} | ${fmt(r.cpuSeconds, 1)} | ${fmt((r.cpuSeconds * 1e6) / Math.max(1, r.sent), 0)} |`);
}
out.push("");
out.push(`NDJSON objects: ${batches.length} of ${fmt(BATCH)} messages, ${fmt(ndBytes / batches.length / 1024, 0)} KiB gzip each. Every run delivered exactly the archive's messages (checked by queue depth).`);
mkdirSync(OUT, { recursive: true });
writeFileSync(`${OUT}replay-${new Date().toISOString().replace(/[:.]/g, "-")}.json`, JSON.stringify({ latency: LATENCY, results }, null, 2));
console.log(out.join("\n"));
void hourPath;
