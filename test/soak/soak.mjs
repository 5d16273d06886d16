#!/usr/bin/env node
/**
 * Soak test (`npm run soak`, not part of CI): SOAK_MESSAGES messages (default 100,000) through the real process
 * (dist/main.js) against the embedded emulator, behind the fault proxy injecting random S3, SQS receive and delete
 * faults. Passes only when: every message is archived exactly once with its exact body (zero lost, zero duplicate
 * objects), the queue drains with nothing in flight, peak RSS stays under SOAK_MAX_RSS_MB, and the process has no
 * more active handles or timers after the run than before it. Prints a JSON summary.
 *
 * Knobs: SOAK_MESSAGES, SOAK_CONCURRENCY (receive loops, 16), SOAK_FAULT_RATE (0.02), SOAK_MAX_RSS_MB (512),
 * SOAK_OUTAGE_EVERY_MS (10000: a 503 window, an S3 brownout window and a delete-failure window per cycle, from the
 * first send on, so they land inside the drain), SOAK_VERIFY (all | sample: read every object back or one in 50), SOAK_FORMAT (message | ndjson: batched mode with
 * BATCH_MAX_SECONDS=5 and S3_REQUEST_TIMEOUT_SECONDS=5 so faulted batches come round quickly; every object is read
 * back; a message may then be in two objects, which passes only when each duplicate line is matched by a counted
 * redelivery, and a missing message always fails).
 * Node 24 strips the types from ../support/aws-proxy.ts, so the same proxy as the tests is used.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startFauxqs } from "fauxqs";
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { gunzipSync } from "node:zlib";
import { startAwsProxy } from "../support/aws-proxy.ts";

const N = Number(process.env.SOAK_MESSAGES ?? 100_000);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16);
const FAULT_RATE = Number(process.env.SOAK_FAULT_RATE ?? 0.02);
const MAX_RSS_MB = Number(process.env.SOAK_MAX_RSS_MB ?? 512);
const VERIFY = process.env.SOAK_VERIFY ?? "all";
const FORMAT = process.env.SOAK_FORMAT ?? "message";
const NDJSON = FORMAT === "ndjson";
const BUCKET = "soak-archive";
const PREFIX = "soak/";
const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg, extra = {}) => process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), msg, ...extra })}\n`);
const bodyFor = (i) => JSON.stringify({ soak: i, text: `message ${i} ünïcödé <&>`, pad: "p".repeat((i * 7919) % 700) });

function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z0-9_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) continue;
    out.set(m[1] + (m[2] ?? ""), Number(m[3]));
    out.set(`${m[1]}:sum`, (out.get(`${m[1]}:sum`) ?? 0) + Number(m[3]));
  }
  return out;
}

const fauxqs = await startFauxqs({ port: 0, logger: false, host: "localhost" });
const proxy = await startAwsProxy({ upstream: fauxqs.address });
const common = { region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" }, endpoint: fauxqs.address };
const sqs = new SQSClient({ ...common, useQueueUrlAsEndpoint: false });
const s3 = new S3Client({ ...common, forcePathStyle: true });
fauxqs.createBucket(BUCKET);
const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "soak-q" }))).QueueUrl;

// Random faults on every kind of call (most are absorbed by SDK retries), plus outage windows that start with the
// producer (so they land inside the drain, however short the run): every SOAK_OUTAGE_EVERY_MS (10 s), S3 writes fail
// (503 SlowDown) for 3 s, then S3 stores writes but answers them late (a brownout: past the request timeout, so the
// write's outcome is unknown) for 3 s, then deletes fail for 2 s. Whole writes fail, messages redeliver, and every
// duplicate line must be matched by a counted event.
const p = FAULT_RATE;
const OUTAGE_EVERY_MS = Number(process.env.SOAK_OUTAGE_EVERY_MS ?? 10_000);
const REQUEST_TIMEOUT_S = NDJSON ? 5 : 30;
const injected = {};
const hit = (name) => {
  injected[name] = (injected[name] ?? 0) + 1;
  return true;
};
let s3Down = false;
let s3Late = false;
let deleteDown = false;
const outageLog = [];
proxy.setFaults([
  { match: (op) => op.name === "PutObject" && s3Down && hit("PutObject outage 503"), action: { kind: "status", status: 503, code: "SlowDown" } },
  { match: (op) => op.name === "PutObject" && s3Late && hit("PutObject brownout: stored, answered late"), action: { kind: "late", delayMs: (REQUEST_TIMEOUT_S + 1) * 1000 } },
  { match: (op) => op.name === "DeleteMessageBatch" && deleteDown && hit("DeleteMessageBatch outage 500"), action: { kind: "status", status: 500, code: "InternalError" } },
  { match: (op) => op.name === "PutObject" && Math.random() < p && hit("PutObject 503"), action: { kind: "status", status: 503, code: "SlowDown" } },
  { match: (op) => op.name === "PutObject" && Math.random() < p / 2 && hit("PutObject 500"), action: { kind: "status", status: 500, code: "InternalError" } },
  { match: (op) => op.name === "PutObject" && Math.random() < p / 4 && hit("PutObject reset"), action: { kind: "reset" } },
  { match: (op) => op.name === "DeleteMessageBatch" && Math.random() < p / 2 && hit("DeleteMessageBatch 500"), action: { kind: "status", status: 500, code: "InternalError" } },
  { match: (op) => op.name === "ReceiveMessage" && Math.random() < p / 2 && hit("ReceiveMessage 500"), action: { kind: "status", status: 500, code: "InternalError" } },
]);
let outages;
const window = (name, setter, ms) => {
  outageLog.push({ name, at: Date.now() });
  setter(true);
  setTimeout(() => setter(false), ms);
};
const startOutages = () => {
  const cycle = () => {
    window("s3_503", (v) => (s3Down = v), 3000);
    setTimeout(() => window("s3_brownout", (v) => (s3Late = v), 3000), 3500);
    setTimeout(() => window("delete_500", (v) => (deleteDown = v), 2000), 7000);
  };
  setTimeout(cycle, 2000);
  outages = setInterval(cycle, OUTAGE_EVERY_MS);
};

// A free port chosen up front: at LOG_LEVEL=warn the "started" line that names the port is not logged.
let logLines = 0;
let rest = "";
const net = await import("node:net");
const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const p2 = s.address().port;
    s.close(() => resolve(p2));
  });
});
const svc = spawn(process.execPath, [MAIN], { env: processEnv(), stdio: ["ignore", "pipe", "pipe"] });
function processEnv() {
  return {
    PATH: process.env.PATH,
    SQS_QUEUE_URL: queueUrl,
    S3_BUCKET_NAME: BUCKET,
    S3_PREFIX: PREFIX,
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL: proxy.url,
    S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_EC2_METADATA_DISABLED: "true",
    HEALTH_PORT: String(port),
    WAIT_TIME_SECONDS: "1",
    VISIBILITY_TIMEOUT_SECONDS: NDJSON ? "40" : "10",
    ...(NDJSON ? { ARCHIVE_FORMAT: "ndjson", BATCH_MAX_SECONDS: "5", S3_REQUEST_TIMEOUT_SECONDS: "5" } : {}),
    CONCURRENCY: String(CONCURRENCY),
    LOG_LEVEL: "warn",
    // The container image's V8 flags (Dockerfile), so the RSS figure is the one a pod shows.
    NODE_OPTIONS: process.env.SOAK_NODE_OPTIONS ?? "--max-semi-space-size=8",
  };
}
const warnCounts = new Map();
svc.stdout.on("data", (c) => {
  const lines = (rest + c.toString("utf8")).split("\n");
  rest = lines.pop() ?? "";
  for (const l of lines) {
    if (!l) continue;
    logLines++;
    try {
      const e = JSON.parse(l).event ?? "?";
      warnCounts.set(e, (warnCounts.get(e) ?? 0) + 1);
    } catch {
      /* not JSON */
    }
  }
});
svc.stderr.on("data", (c) => process.stderr.write(c));
const svcExited = new Promise((r) => svc.on("exit", (code, signal) => r({ code, signal })));
const base = `http://127.0.0.1:${port}`;
const metrics = async () => parseMetrics(await (await fetch(`${base}/metrics`)).text());

for (let i = 0; ; i++) {
  try {
    await metrics();
    break;
  } catch {
    if (i > 100) throw new Error("service did not come up");
    await sleep(100);
  }
}
// Handles and timers at idle fluctuate with where each loop is in its long-poll cycle (request timers, back-off
// sleeps): the baseline is the highest of several idle samples, the end state the lowest. A leak proportional to
// the messages processed still shows.
const steady = async (pick) => {
  let best;
  for (let i = 0; i < 8; i++) {
    const m = await metrics();
    const v = [m.get("nodejs_active_handles_total") ?? 0, m.get('nodejs_active_resources{type="Timeout"}') ?? 0];
    best = best === undefined ? { m, v } : pick(v[0] + v[1], best.v[0] + best.v[1]) ? { m, v } : best;
    await sleep(500);
  }
  return best.m;
};
await sleep(3000);
const idle = await steady((a, b) => a > b);
// Keep-alive sockets are pooled (bounded by the clients' maxSockets) and may stay open after a busy run: compared
// separately from every other handle.
const sockets = (m) => m.get('nodejs_active_resources{type="TCPSocketWrap"}') ?? 0;
const baseline = {
  handles: (idle.get("nodejs_active_handles_total") ?? 0) - sockets(idle),
  sockets: sockets(idle),
  resources: idle.get("nodejs_active_resources_total:sum") ?? 0,
  timers: idle.get('nodejs_active_resources{type="Timeout"}') ?? 0,
  rssMb: (idle.get("process_resident_memory_bytes") ?? 0) / 2 ** 20,
};
log("service up", { baseline });

// Sampler: peak RSS, heap and progress, once a second.
let peakRss = 0;
let peakHeap = 0;
let samples = 0;
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    try {
      const m = await metrics();
      peakRss = Math.max(peakRss, m.get("process_resident_memory_bytes") ?? 0);
      peakHeap = Math.max(peakHeap, m.get("nodejs_heap_size_used_bytes") ?? 0);
      if (++samples % 10 === 0) {
        log("progress", {
          deleted: m.get("sqs_archiver_messages_deleted_total"),
          archived: m.get("sqs_archiver_messages_archived_total"),
          duplicates: m.get("sqs_archiver_duplicate_deliveries_total"),
          failures: m.get("sqs_archiver_failures_total:sum"),
          rssMb: Math.round((m.get("process_resident_memory_bytes") ?? 0) / 2 ** 20),
        });
      }
    } catch {
      /* service restarting or gone: the checks below will say */
    }
    await sleep(1000);
  }
})();

// Producer: sends while the service consumes, 8 batches in flight.
const started = Date.now();
startOutages();
const ids = new Array(N);
let next = 0;
const producer = async () => {
  for (;;) {
    const from = next;
    if (from >= N) return;
    next = Math.min(N, from + 10);
    const entries = [];
    for (let i = from; i < next; i++) entries.push({ Id: `e${i - from}`, MessageBody: bodyFor(i) });
    for (let attempt = 0; ; attempt++) {
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      if (!out.Failed?.length) {
        for (const s of out.Successful ?? []) ids[from + Number(s.Id.slice(1))] = s.MessageId;
        break;
      }
      if (attempt > 5) throw new Error(`send failed: ${JSON.stringify(out.Failed)}`);
    }
  }
};
await Promise.all(Array.from({ length: 8 }, producer));
const sentMs = Date.now() - started;
log("all sent", { n: N, seconds: sentMs / 1000 });

// Drained: nothing visible, nothing in flight, for two checks in a row.
for (let ok = 0; ok < 2; ) {
  const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }))).Attributes ?? {};
  ok = Number(a.ApproximateNumberOfMessages) === 0 && Number(a.ApproximateNumberOfMessagesNotVisible) === 0 ? ok + 1 : 0;
  if (svc.exitCode !== null) throw new Error(`service exited during the soak: ${svc.exitCode}`);
  await sleep(1000);
}
const drainedMs = Date.now() - started;
clearInterval(outages);
const outagesInDrain = outageLog.filter((o) => o.at < started + drainedMs).map((o) => o.name);
proxy.clearFaults();
await sleep(5000);
const after = await steady((a, b) => a < b);
sampling = false;
await sampler;
const end = {
  handles: (after.get("nodejs_active_handles_total") ?? 0) - sockets(after),
  sockets: sockets(after),
  resources: after.get("nodejs_active_resources_total:sum") ?? 0,
  timers: after.get('nodejs_active_resources{type="Timeout"}') ?? 0,
  rssMb: (after.get("process_resident_memory_bytes") ?? 0) / 2 ** 20,
};

// Verify the archive: one object per message id, exact bodies.
const keys = [];
let token;
do {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: PREFIX, ContinuationToken: token }));
  for (const o of out.Contents ?? []) keys.push(o.Key);
  token = out.IsTruncated ? out.NextContinuationToken : undefined;
} while (token);
const indexById = new Map(ids.map((id, i) => [id, i]));
let duplicateLines = 0;
if (NDJSON) {
  // Batched mode: every line of every object; a message's id may be on two lines (two objects).
  const lineIds = [];
  let k = 0;
  let mismatches = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (k < keys.length) {
        const key = keys[k++];
        const raw = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body.transformToByteArray());
        for (const line of gunzipSync(raw).toString("utf8").split("\n")) {
          if (!line) continue;
          const env = JSON.parse(line);
          const i = indexById.get(env.messageId);
          if (i === undefined || env.body !== bodyFor(i)) mismatches++;
          lineIds.push(env.messageId);
        }
      }
    }),
  );
  const seenIds = new Set(lineIds);
  duplicateLines = lineIds.length - seenIds.size;
  const summary = {
    format: FORMAT,
    messages: N,
    concurrency: CONCURRENCY,
    faultRate: FAULT_RATE,
    sendSeconds: sentMs / 1000,
    drainSeconds: drainedMs / 1000,
    throughputPerSecond: Math.round(N / (drainedMs / 1000)),
    objects: keys.length,
    lines: lineIds.length,
    lost: ids.filter((id) => !seenIds.has(id)).length,
    duplicateLines,
    strangers: [...seenIds].filter((id) => !indexById.has(id)).length,
    bodyMismatches: mismatches,
    peakRssMb: Math.round(peakRss / 2 ** 20),
    peakHeapUsedMb: Math.round(peakHeap / 2 ** 20),
    baseline,
    afterRun: end,
    archived: after.get("sqs_archiver_messages_archived_total"),
    outagesInDrain: outagesInDrain.length,
    outageKindsInDrain: [...new Set(outagesInDrain)],
    redeliveries: after.get("sqs_archiver_redeliveries_total"),
    archivedNotDeleted: after.get("sqs_archiver_archived_not_deleted_total"),
    writeOutcomeChecks: Object.fromEntries([...after].filter(([key]) => key.startsWith("sqs_archiver_write_outcome_checks_total{"))),
    batchFlushes: Object.fromEntries([...after].filter(([key]) => key.startsWith("sqs_archiver_batch_flushes_total{"))),
    batches: after.get("sqs_archiver_batches_written_total:sum"),
    s3Retries: after.get("sqs_archiver_s3_retries_total"),
    failures: Object.fromEntries([...after].filter(([key]) => key.startsWith("sqs_archiver_failures_total{"))),
    requests: Object.fromEntries([...proxy.counts]),
    injectedFaults: injected,
    logEvents: Object.fromEntries(warnCounts),
  };
  svc.kill("SIGTERM");
  summary.exit = await svcExited;
  console.log(JSON.stringify(summary, null, 2));
  const problems = [];
  if (summary.lost) problems.push(`${summary.lost} messages lost`);
  if (!outagesInDrain.includes("s3_brownout") || !outagesInDrain.includes("s3_503")) problems.push(`outage windows did not land inside the drain: ${JSON.stringify(outagesInDrain)}`);
  if (summary.strangers) problems.push(`${summary.strangers} lines for unknown message ids`);
  if (mismatches) problems.push(`${mismatches} bodies differ`);
  if (duplicateLines > (summary.redeliveries ?? 0)) problems.push(`${duplicateLines} duplicate lines but only ${summary.redeliveries} redeliveries counted`);
  if (peakRss / 2 ** 20 > MAX_RSS_MB) problems.push(`peak RSS ${Math.round(peakRss / 2 ** 20)} MiB > ${MAX_RSS_MB} MiB`);
  if (end.handles > baseline.handles) problems.push(`active handles grew: ${baseline.handles} -> ${end.handles}`);
  if (end.timers > baseline.timers) problems.push(`active timers grew: ${baseline.timers} -> ${end.timers}`);
  if (summary.exit.code !== 0) problems.push(`service exit ${JSON.stringify(summary.exit)}`);
  sqs.destroy();
  s3.destroy();
  await proxy.close();
  await fauxqs.stop();
  if (problems.length) {
    console.error(`SOAK FAILED: ${problems.join("; ")}`);
    process.exit(1);
  }
  console.error("SOAK PASSED");
  process.exit(0);
}
const keyIds = keys.map((k) => k.slice(k.lastIndexOf("/") + 1, -".json".length));
const seen = new Set(keyIds);
const lost = ids.filter((id) => !seen.has(id)).length;
const duplicateObjects = keys.length - seen.size;
const strangers = keyIds.filter((id) => !indexById.has(id)).length;
let bodyMismatches = 0;
let checked = 0;
const toCheck = VERIFY === "all" ? keys : keys.filter((_, i) => i % 50 === 0);
let cursor = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (cursor < toCheck.length) {
      const key = toCheck[cursor++];
      const env = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body.transformToString("utf8"));
      const i = indexById.get(env.messageId);
      if (i === undefined || env.body !== bodyFor(i) || !key.endsWith(`/${env.messageId}.json`)) bodyMismatches++;
      checked++;
    }
  }),
);

svc.kill("SIGTERM");
const exit = await svcExited;
const summary = {
  messages: N,
  concurrency: CONCURRENCY,
  faultRate: FAULT_RATE,
  sendSeconds: sentMs / 1000,
  drainSeconds: drainedMs / 1000,
  throughputPerSecond: Math.round(N / (drainedMs / 1000)),
  objects: keys.length,
  lost,
  duplicateObjects,
  strangers,
  bodiesChecked: checked,
  bodyMismatches,
  peakRssMb: Math.round(peakRss / 2 ** 20),
  peakHeapUsedMb: Math.round(peakHeap / 2 ** 20),
  baseline,
  afterRun: end,
  archived: after.get("sqs_archiver_messages_archived_total"),
  duplicateDeliveries: after.get("sqs_archiver_duplicate_deliveries_total"),
  outagesInDrain: outagesInDrain.length,
  writeOutcomeChecks: Object.fromEntries([...after].filter(([k]) => k.startsWith("sqs_archiver_write_outcome_checks_total{"))),
  s3Retries: after.get("sqs_archiver_s3_retries_total"),
  failures: Object.fromEntries([...after].filter(([k]) => k.startsWith("sqs_archiver_failures_total{"))),
  requests: Object.fromEntries([...proxy.counts]),
  injectedFaults: injected,
  logLines,
  logEvents: Object.fromEntries(warnCounts),
  exit,
};
console.log(JSON.stringify(summary, null, 2));

const problems = [];
if (lost) problems.push(`${lost} messages lost`);
if (duplicateObjects) problems.push(`${duplicateObjects} duplicate objects`);
if (strangers) problems.push(`${strangers} objects for unknown message ids`);
if (bodyMismatches) problems.push(`${bodyMismatches} bodies differ`);
if (keys.length !== N) problems.push(`${keys.length} objects for ${N} messages`);
if (peakRss / 2 ** 20 > MAX_RSS_MB) problems.push(`peak RSS ${Math.round(peakRss / 2 ** 20)} MiB > ${MAX_RSS_MB} MiB`);
if (end.handles > baseline.handles) problems.push(`active handles grew: ${baseline.handles} -> ${end.handles}`);
if (end.sockets > CONCURRENCY * 2 + 4 + CONCURRENCY * 10 + 4) problems.push(`more sockets than the pools allow: ${end.sockets}`);
if (end.timers > baseline.timers) problems.push(`active timers grew: ${baseline.timers} -> ${end.timers}`);
if (exit.code !== 0) problems.push(`service exit ${JSON.stringify(exit)}`);

sqs.destroy();
s3.destroy();
await proxy.close();
await fauxqs.stop();
if (problems.length) {
  console.error(`SOAK FAILED: ${problems.join("; ")}`);
  process.exit(1);
}
console.error("SOAK PASSED");
