// Helpers for bench/run.mjs: backend process control, preload, /proc sampling, latency sampling, metrics parsing.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { SQSClient, SendMessageBatchCommand, SendMessageCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { S3Client, ListObjectsV2Command, GetObjectCommand } from "@aws-sdk/client-s3";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const CLK_TCK = 100;
const CREDS = { accessKeyId: "bench", secretAccessKey: "bench" };

/** Starts bench/backend.mjs (emulator + latency proxy) in its own process; returns an IPC RPC handle. */
export async function startBackend({ latency, conditionalWrites }) {
  const child = fork(new URL("./backend.mjs", import.meta.url), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, BENCH_LATENCY: JSON.stringify(latency), BENCH_CONDITIONAL: String(conditionalWrites), NODE_OPTIONS: "" },
    execArgv: ["--expose-gc", "--disable-warning=ExperimentalWarning"],
  });
  const ready = await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`backend exited ${code}`)));
  });
  let seq = 0;
  const pending = new Map();
  child.on("message", (m) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error) p.reject(new Error(m.error));
    else p.resolve(m.result);
  });
  const call = (cmd, args = {}) =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      pending.set(id, { resolve, reject });
      child.send({ id, cmd, ...args });
    });
  const region = "us-east-1";
  const sqs = new SQSClient({ region, credentials: CREDS, endpoint: ready.emulator, useQueueUrlAsEndpoint: false, maxAttempts: 1 });
  const s3 = new S3Client({ region, credentials: CREDS, endpoint: ready.emulator, forcePathStyle: true });
  return {
    ...ready,
    pid: child.pid,
    call,
    sqs,
    s3,
    async close() {
      child.disconnect();
      await new Promise((r) => child.once("exit", r));
      sqs.destroy();
      s3.destroy();
    },
  };
}

export function makeBody(size, seq) {
  const head = `{"seq":${seq},"kind":"bench","pad":"`;
  const tail = `"}`;
  return head + "x".repeat(Math.max(0, size - head.length - tail.length)) + tail;
}

/** SendMessageBatch straight to the emulator (not through the proxy), `parallel` batches in flight. */
export async function preload(sqs, queueUrl, n, bodySize, { parallel = 16, startSeq = 0 } = {}) {
  let next = 0;
  const batches = Math.ceil(n / 10);
  const worker = async () => {
    for (;;) {
      const b = next++;
      if (b >= batches) return;
      const entries = [];
      for (let i = b * 10; i < Math.min(n, b * 10 + 10); i++) entries.push({ Id: `e${i - b * 10}`, MessageBody: makeBody(bodySize, startSeq + i) });
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      if (out.Failed?.length) throw new Error(`preload failed: ${JSON.stringify(out.Failed[0])}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

export async function queueDepth(sqs, queueUrl) {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
    }),
  );
  const a = out.Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
}

export async function listKeys(s3, bucket) {
  const keys = [];
  let token;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of out.Contents ?? []) keys.push(o.Key);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Reads `sample` evenly spaced archive objects and returns archivedAt - sentAt in ms for each. */
export async function sampleLatencies(s3, bucket, keys, sample, parallel = 16) {
  const step = Math.max(1, keys.length / sample);
  const chosen = [];
  for (let i = 0; i < keys.length && chosen.length < sample; i += step) chosen.push(keys[Math.floor(i)]);
  const out = [];
  let next = 0;
  const worker = async () => {
    for (;;) {
      const k = chosen[next++];
      if (k === undefined) return;
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
      const env = JSON.parse(await r.Body.transformToString());
      out.push(Date.parse(env.archivedAt) - Date.parse(env.sentAt));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return out.sort((a, b) => a - b);
}

export const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);

/** utime + stime of a process, in seconds. */
export function procCpu(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

export function procMem(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
    return { rss: kb("VmRSS") * 1024, hwm: kb("VmHWM") * 1024 };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusy() {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = line;
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Parses the Prometheus text format into { name: [{ labels, value }] }. */
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const kv of (m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)) labels[kv[1]] = kv[2];
    (out[m[1]] ??= []).push({ labels, value: Number(m[4]) });
  }
  return out;
}

export const metricValue = (metrics, name) => (metrics[name] ?? []).reduce((s, r) => s + r.value, 0);

/** Quantile upper bound from a cumulative histogram (bucket resolution). */
export function histogramQuantile(metrics, name, q) {
  const buckets = (metrics[`${name}_bucket`] ?? []).map((r) => ({ le: r.labels.le === "+Inf" ? Infinity : Number(r.labels.le), c: r.value })).sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.c ?? 0;
  if (!total) return NaN;
  return buckets.find((b) => b.c >= q * total)?.le ?? Infinity;
}

/** ListObjectsV2 with sizes and LastModified (ms precision in the emulator's XML). */
export async function listObjects(s3, bucket) {
  const objs = [];
  let token;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of out.Contents ?? []) objs.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? NaN });
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return objs;
}

function decompress(key, buf) {
  if (key.endsWith(".gz")) return gunzipSync(buf);
  if (key.endsWith(".zst")) return zstdDecompressSync(buf);
  return buf;
}

/**
 * Reads every ndjson object back (ARCHIVE_FORMAT=ndjson): counts lines and distinct message ids (every message must
 * be in at least one line; a second line is a counted duplicate), and for each line the time from its SentTimestamp
 * to the object's LastModified (when S3 stored it: durable), plus `putMs` for the injected PutObject latency the
 * client still waits after that.
 */
export async function readNdjson(s3, bucket, { putMs = 0, parallel = 8 } = {}) {
  const objs = await listObjects(s3, bucket);
  const ids = new Set();
  let lines = 0;
  let bytes = 0;
  let uncompressed = 0;
  let bad = 0;
  const durable = [];
  const perObject = [];
  let next = 0;
  const worker = async () => {
    for (;;) {
      const o = objs[next++];
      if (!o) return;
      const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.key }));
      const raw = Buffer.from(await r.Body.transformToByteArray());
      bytes += raw.length;
      const text = decompress(o.key, raw).toString("utf8");
      uncompressed += Buffer.byteLength(text);
      let n = 0;
      for (const line of text.split("\n")) {
        if (!line) continue;
        let env;
        try {
          env = JSON.parse(line);
        } catch {
          bad++;
          continue;
        }
        n++;
        ids.add(env.messageId);
        durable.push(o.lastModified + putMs - Date.parse(env.sentAt));
      }
      lines += n;
      perObject.push(n);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  durable.sort((a, b) => a - b);
  return { objects: objs.length, lines, unique: ids.size, bad, bytes, uncompressed, durable, perObject };
}

/** SendMessage one at a time (`parallel` at once): bodies up to SQS's 1 MiB limit do not fit a SendMessageBatch. */
export async function preloadEach(sqs, queueUrl, n, bodyFn, { parallel = 4 } = {}) {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: bodyFn(i) }));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/**
 * The steady part of a drain: from the first sample with queue depth ≤ 90% of the backlog to the first with ≤ 10%,
 * messages per second and service CPU ms per message over that window (startup, the first batch's fill and the tail
 * excluded). `timeline` rows are [ms since start, depth, service CPU s].
 */
export function steadyWindow(timeline, n) {
  if (n < 1000) return null;
  const a = timeline.find((x) => x[1] <= 0.9 * n);
  const b = timeline.find((x) => x[1] <= 0.1 * n);
  if (!a || !b || b[0] <= a[0]) return null;
  const msgs = a[1] - b[1];
  return { fromMs: a[0], toMs: b[0], messages: msgs, rate: msgs / ((b[0] - a[0]) / 1000), cpuMsPerMsg: ((b[2] - a[2]) / msgs) * 1000, cores: (b[2] - a[2]) / ((b[0] - a[0]) / 1000) };
}
