// Helpers for bench/run.mjs: backend process control, preload, /proc sampling, latency sampling, metrics parsing.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { SQSClient, SendMessageBatchCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
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
