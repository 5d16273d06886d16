#!/usr/bin/env node
// `npm run bench`: throughput, latency, memory and CPU of the archiver against the fauxqs emulator behind a
// latency-injecting proxy (its own process), with two baselines, a CONCURRENCY sweep, a 100k backlog and a CPU profile.
// Options: node bench/run.mjs --help
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, openSync, closeSync, readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import {
  freePort, histogramQuantile, listKeys, machineBusy, makeBody, metricValue, parseMetrics, preload, procCpu, procMem,
  quantile, queueDepth, sampleLatencies, sleep, startBackend,
} from "./lib.mjs";
import { summariseProfile } from "./profile-summary.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = fileURLToPath(new URL("./out/", import.meta.url));

const { values: opt } = parseArgs({
  options: {
    n: { type: "string", default: process.env.BENCH_N ?? "20000" },
    "n-64k": { type: "string", default: "5000" },
    "naive-n": { type: "string", default: "1000" },
    "consumer-n": { type: "string", default: "3000" },
    "consumer1-n": { type: "string", default: "500" },
    "memory-n": { type: "string", default: "100000" },
    sqs: { type: "string", default: process.env.BENCH_SQS_MS ?? "10" },
    put: { type: "string", default: process.env.BENCH_PUT_MS ?? "25" },
    profiles: { type: "string", default: process.env.BENCH_PROFILES ?? "1k,64k" },
    sweep: { type: "string", default: process.env.BENCH_SWEEP ?? "1,2,4,8,16,32" },
    only: { type: "string", default: process.env.BENCH_ONLY ?? "baselines,default,profiles,zero,sweep,keepup,memory,cpuprof,replay" },
    "lean-pairs": { type: "string", default: "2" },
    concurrency: { type: "string", default: process.env.BENCH_CONCURRENCY ?? "" },
    "node-options": { type: "string", default: "--max-semi-space-size=8" },
    "keepup-rate": { type: "string", default: "" },
    "keepup-seconds": { type: "string", default: "15" },
    sample: { type: "string", default: "2000" },
    "wait-time": { type: "string", default: "2" },
    "memory-node-options": { type: "string", default: "" },
    conditional: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    "update-results": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (opt.help) {
  console.log(`node bench/run.mjs [options]
  --n N               messages per service run (default 20000; env BENCH_N)
  --n-64k N           messages for the 64 KiB profile (5000: the emulator keeps queue and objects in memory)
  --naive-n / --consumer1-n / --consumer-n   baseline sizes (1000 / 500 / 3000: they are slow; their rate is what
                      matters): naive loop, sqs-consumer recipe with defaults (batchSize 1), recipe with batchSize 10
  --memory-n N        backlog for the memory run (100000)
  --sqs MS --put MS   injected latency per SQS call / S3 PutObject (10 / 25); a 0 ms run is part of "zero"
  --profiles 1k,64k   body sizes for the default-config runs
  --sweep 1,2,4,...   CONCURRENCY values to sweep
  --only LIST         sections: baselines,default,profiles,zero,sweep,keepup,memory,cpuprof,replay (bench/replay.mjs:
                      sqs-archiver replay --rate 0 from both layouts), and "lean" (not in the
                      default list): the service vs bench/lean-loop.mjs, interleaved --lean-pairs times, to measure the
                      service's own per-message CPU against a loop with no service machinery
  --concurrency C     CONCURRENCY for the "default" runs (default: unset = the service's own default)
  --node-options OPTS NODE_OPTIONS for the service in every run except the sweep's (default: the container image's,
                      --max-semi-space-size=8; "" for none)
  --keepup-rate R     producer rate for the latency-when-keeping-up run (default: 60% of the measured default rate)
  --sample S          archive objects read back to compute SentTimestamp->archivedAt percentiles (2000)
  --wait-time S       WAIT_TIME_SECONDS for the service (2: with a backlog every receive returns at once; it only
                      shortens shutdown after each run)
  --memory-node-options OPTS  repeat the memory run with these NODE_OPTIONS instead (default "": no repeat; e.g. " "
                      to compare against V8's uncapped young generation)
  --conditional       let the proxy enforce If-None-Match (costs a HEAD per PutObject in the backend process)
  --quick             small N everywhere (smoke test)
  --update-results    write the generated tables into bench/RESULTS.md between the bench markers`);
  process.exit(0);
}

const quick = opt.quick;
const N = quick ? 2000 : Number(opt.n);
const N64 = quick ? 1000 : Number(opt["n-64k"]);
const NAIVE_N = quick ? 200 : Number(opt["naive-n"]);
const CONSUMER_N = quick ? 500 : Number(opt["consumer-n"]);
const MEMORY_N = quick ? 5000 : Number(opt["memory-n"]);
const SAMPLE = Number(opt.sample);
const LATENCY = { sqs: Number(opt.sqs), PutObject: Number(opt.put) };
const ZERO = { sqs: 0, PutObject: 0 };
const SECTIONS = new Set(opt.only.split(","));
const SWEEP = opt.sweep.split(",").filter(Boolean).map(Number);
const PROFILE_SIZES = { "1k": 1024, "64k": 65536 };
const PROFILES = opt.profiles.split(",").filter(Boolean);

mkdirSync(`${OUT}logs`, { recursive: true });
const lines = [];
const log = (s = "") => {
  console.log(s);
  lines.push(s);
};
const results = { startedAt: new Date().toISOString(), options: opt, runs: [] };

// ---------------------------------------------------------------------------------------------------------------
const machine = {
  cores: os.availableParallelism(),
  cpu: os.cpus()[0]?.model ?? "unknown",
  node: process.version,
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  kernel: os.release(),
  loadAtStart: os.loadavg().map((x) => x.toFixed(2)).join(" "),
};
results.machine = machine;
const git = (...a) => {
  try {
    return execFileSync("git", a, { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
};
const dirty = git("status", "--porcelain", "src");
results.revision = `${git("rev-parse", "--short", "HEAD")}${dirty && dirty !== "unknown" ? " + uncommitted changes in src/" : ""}`;
log(`# sqs-archiver benchmark — ${results.startedAt}`);
log(`machine: ${machine.cores} cores (${machine.cpu}), ${machine.memGiB} GiB, Node ${machine.node}, Linux ${machine.kernel}, load ${machine.loadAtStart}`);
log(`service revision: ${results.revision} (dist/ built by npm run bench)`);
log(`latency injected by the proxy: SQS ${LATENCY.sqs} ms per call, S3 PutObject ${LATENCY.PutObject} ms; proxy If-None-Match enforcement: ${opt.conditional ? "on (extra HEAD per put)" : "off"}`);
log(`emulator + proxy run in one separate backend process; the service, each baseline and this driver are separate processes too`);
log("");

const backend = await startBackend({ latency: LATENCY, conditionalWrites: opt.conditional });
let runSeq = 0;

/**
 * One measured run: preload `n` messages, start `kind` (service | naive | consumer) as its own process at t0, wait
 * until the queue is empty (every message archived and deleted), then take CPU/RSS, stop it and verify N objects.
 */
async function measure({ label, kind, n, bodySize = 1024, env = {}, latency = LATENCY, nodeArgs = [], keepup }) {
  const id = ++runSeq;
  const queueName = `bench-${id}`;
  const bucket = `bench-${id}`;
  await backend.call("setLatency", { latency });
  const { queueUrl } = await backend.call("createQueue", { name: queueName });
  await backend.call("createBucket", { name: bucket });
  if (n > 0) await preload(backend.sqs, queueUrl, n, bodySize);
  const total = n + (keepup ? keepup.rate * keepup.seconds : 0);
  await sleep(300);

  const healthPort = await freePort();
  const script = { service: `${ROOT}dist/main.js`, naive: `${ROOT}bench/baseline-naive.mjs`, consumer: `${ROOT}bench/baseline-sqs-consumer.mjs`, lean: `${ROOT}bench/lean-loop.mjs` }[kind];
  const logFd = openSync(`${OUT}logs/${id}-${label.replace(/[^\w.-]+/g, "_")}.log`, "w");
  const childEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SQS_QUEUE_URL: queueUrl,
    S3_BUCKET_NAME: bucket,
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL: backend.proxy,
    S3_FORCE_PATH_STYLE: "true",
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
    AWS_EC2_METADATA_DISABLED: "true",
    HEALTH_PORT: String(healthPort),
    WAIT_TIME_SECONDS: opt["wait-time"],
    ...env,
  };
  const cpu0 = { backend: procCpu(backend.pid), driver: process.cpuUsage(), machine: machineBusy() };
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, script], { env: childEnv, stdio: ["ignore", logFd, logFd], cwd: ROOT });
  let exited = null;
  child.on("exit", (code, signal) => (exited = { code, signal }));

  // Optional paced producer (latency while keeping up): batches of 10 at keepup.rate msg/s, straight to the emulator.
  let producer = Promise.resolve();
  if (keepup) {
    producer = (async () => {
      // wait until the service is up (metrics answer), then produce
      for (let i = 0; i < 200; i++) {
        try {
          await fetch(`http://127.0.0.1:${healthPort}/metrics`);
          break;
        } catch {
          await sleep(50);
        }
      }
      const batches = (keepup.rate * keepup.seconds) / 10;
      const start = performance.now();
      const sends = [];
      for (let b = 0; b < batches; b++) {
        const due = start + (b * 10 * 1000) / keepup.rate;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const entries = Array.from({ length: 10 }, (_, j) => ({ Id: `e${j}`, MessageBody: makeBody(bodySize, b * 10 + j) }));
        sends.push(backend.sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries })));
      }
      await Promise.all(sends);
    })();
  }

  // Wait for the queue to drain (and, with a producer, for the producer to finish).
  let producing = !!keepup;
  producer.then(() => (producing = false));
  let firstDrop = null;
  let peakRss = 0;
  let tEnd = null;
  const timeoutMs = Math.max(120_000, (total / 5) * 1000);
  while (performance.now() - t0 < timeoutMs) {
    await sleep(50);
    if (exited) break;
    peakRss = Math.max(peakRss, procMem(child.pid).rss);
    const depth = await queueDepth(backend.sqs, queueUrl);
    if (firstDrop === null && depth < n) firstDrop = performance.now();
    if (!producing && depth === 0) {
      tEnd = performance.now();
      break;
    }
  }
  const complete = tEnd !== null;
  if (!complete) tEnd = performance.now();
  const wall = (tEnd - t0) / 1000;
  const cpu = procCpu(child.pid);
  const mem = procMem(child.pid);
  const backendCpu = procCpu(backend.pid) - cpu0.backend;
  const driverCpuUs = process.cpuUsage(cpu0.driver);
  const driverCpu = (driverCpuUs.user + driverCpuUs.system) / 1e6;
  const machineCpu = machineBusy() - cpu0.machine;
  let metrics = null;
  if (kind === "service") {
    try {
      metrics = parseMetrics(await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text());
    } catch {
      /* not reachable */
    }
  }
  // Stop it: SIGTERM (the service drains and exits 0).
  const tStop = performance.now();
  if (!exited) child.kill("SIGTERM");
  for (let i = 0; i < 400 && !exited; i++) await sleep(50);
  if (!exited) child.kill("SIGKILL");
  while (!exited) await sleep(20);
  const stopSeconds = (performance.now() - tStop) / 1000;
  closeSync(logFd);

  const keys = await listKeys(backend.s3, bucket);
  const lat = await sampleLatencies(backend.s3, bucket, keys, SAMPLE);
  const counts = await backend.call("counts");
  await backend.call("reset", { queues: [queueName] });

  const r = {
    id, label, kind, n: total, bodySize, latency, env,
    complete, objects: keys.length, verified: keys.length === total,
    wallSeconds: wall,
    rate: total / wall,
    activeRate: firstDrop ? total / ((tEnd - firstDrop) / 1000) : NaN,
    startupSeconds: firstDrop ? (firstDrop - t0) / 1000 : NaN,
    p50ms: quantile(lat, 0.5), p99ms: quantile(lat, 0.99), maxMs: lat.at(-1), sampled: lat.length,
    peakRssMB: Math.max(mem.hwm, peakRss) / 2 ** 20,
    cpuSeconds: cpu,
    cpuPer1000: (cpu / total) * 1000,
    serviceCores: cpu / wall,
    backendCores: backendCpu / wall,
    driverCores: driverCpu / wall,
    otherCores: Math.max(0, (machineCpu - cpu - backendCpu - driverCpu) / wall),
    exit: exited, stopSeconds,
    ops: counts,
    metrics: metrics && {
      archived: metricValue(metrics, "sqs_archiver_messages_archived_total"),
      deleted: metricValue(metrics, "sqs_archiver_messages_deleted_total"),
      ageP50: histogramQuantile(metrics, "sqs_archiver_message_age_seconds", 0.5),
      ageP99: histogramQuantile(metrics, "sqs_archiver_message_age_seconds", 0.99),
      rssMB: metricValue(metrics, "process_resident_memory_bytes") / 2 ** 20,
    },
  };
  results.runs.push(r);
  const flag = r.verified && r.complete ? "" : `  !! ${r.complete ? "" : "TIMED OUT "}objects ${r.objects}/${total}`;
  console.log(
    `  [${label}] ${fmt(r.rate)} msg/s (N=${total}, ${r.wallSeconds.toFixed(1)} s), p50 ${fmt(r.p50ms)} ms p99 ${fmt(r.p99ms)} ms, ` +
      `RSS ${fmt(r.peakRssMB)} MB, ${r.cpuPer1000.toFixed(2)} CPU s/1000, cores: svc ${r.serviceCores.toFixed(2)} backend ${r.backendCores.toFixed(2)} other ${r.otherCores.toFixed(2)}, exit ${exited.code ?? exited.signal}${flag}`,
  );
  return r;
}

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "—");
const row = (r, extra = "") =>
  `| ${r.label} | ${r.n} | ${fmt(r.rate)} | ${fmt(r.activeRate)} | ${fmt(r.p50ms)} | ${fmt(r.p99ms)} | ${fmt(r.peakRssMB)} | ${r.cpuPer1000.toFixed(2)} | ${r.serviceCores.toFixed(2)} | ${r.backendCores.toFixed(2)} | ${r.otherCores.toFixed(2)} | ${r.verified ? "yes" : `NO (${r.objects})`}${extra} |`;
const HEADER = [
  "| run | N | msg/s | msg/s after 1st delete | p50 ms | p99 ms | peak RSS MB | CPU s / 1000 msg | service cores | backend cores | other load (cores) | N objects |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
];
const svcEnv = (extra = {}) => ({ ...(opt.concurrency ? { CONCURRENCY: opt.concurrency } : {}), ...(opt["node-options"] ? { NODE_OPTIONS: opt["node-options"] } : {}), ...extra });
const defaultLabel = (opt.concurrency ? `service CONCURRENCY=${opt.concurrency}` : "service (default config)") + (opt["node-options"] ? ` NODE_OPTIONS=${opt["node-options"]}` : "");

// ---------------------------------------------------------------------------------------------------------------
const headline = [];
let naive, consumer1, consumer, def;
try {
  if (SECTIONS.has("baselines")) {
    console.log("baselines (smaller N: they are slow; the rate is what is compared)");
    naive = await measure({ label: "baseline: naive loop", kind: "naive", n: NAIVE_N });
    consumer1 = await measure({ label: "baseline: sqs-consumer recipe (defaults: batchSize 1)", kind: "consumer", n: quick ? 200 : Number(opt["consumer1-n"]) });
    consumer = await measure({ label: "baseline: sqs-consumer recipe, batchSize 10", kind: "consumer", n: CONSUMER_N, env: { BATCH_SIZE: "10" } });
    headline.push(naive, consumer1, consumer);
  }
  if (SECTIONS.has("default") || SECTIONS.has("profiles")) {
    console.log("service, default configuration");
    for (const p of PROFILES) {
      if (p !== "1k" && !SECTIONS.has("profiles")) continue;
      const r = await measure({ label: `${defaultLabel}, ${p} bodies`, kind: "service", n: p === "1k" ? N : N64, bodySize: PROFILE_SIZES[p], env: svcEnv() });
      headline.push(r);
      if (p === "1k") def = r;
    }
  }
  if (SECTIONS.has("zero")) {
    console.log("service, default configuration, 0 ms injected latency");
    headline.push(await measure({ label: `${defaultLabel}, 1k bodies, 0 ms latency`, kind: "service", n: N, env: svcEnv(), latency: ZERO }));
  }
  log("## Headline (1 KiB bodies unless stated)");
  log("");
  log(...[HEADER.join("\n")]);
  for (const r of headline) log(row(r));
  log("");
  if (def && naive && consumer) {
    log(`Ratios (messages/s, default configuration vs baseline): ${fmt(def.rate / naive.rate, 1)}× the naive loop (target ≥ 50×); ` +
      `${fmt(def.rate / consumer.rate, 1)}× the sqs-consumer recipe with batchSize 10 (target ≥ 8×; ${fmt(def.rate / consumer1.rate, 1)}× the recipe with its default batchSize 1).`);
    log(`Baselines ran on N=${naive.n}, ${consumer1.n} and ${consumer.n} (~${fmt(naive.wallSeconds)} s, ~${fmt(consumer1.wallSeconds)} s, ~${fmt(consumer.wallSeconds)} s); every figure is a rate, so N does not change the comparison.`);
    log("");
  }

  if (SECTIONS.has("sweep")) {
    console.log("CONCURRENCY sweep");
    const sweep = [];
    for (const c of SWEEP) {
      // Rate is what matters: small concurrencies get a smaller N so each run still lasts ~10 s or more.
      const n = Math.min(N, Math.max(2000, c * 2000));
      sweep.push(await measure({ label: `CONCURRENCY=${c}`, kind: "service", n, env: { CONCURRENCY: String(c) } }));
    }
    log("## CONCURRENCY sweep (1 KiB, injected latency)");
    log("");
    const cycle = LATENCY.sqs * 2 + LATENCY.PutObject;
    log(`Latency-bound ceiling per loop ≈ 10 messages per (receive ${LATENCY.sqs} + puts ${LATENCY.PutObject} + delete ${LATENCY.sqs}) ms = ${fmt(10000 / cycle)} msg/s, before any CPU cost.`);
    log("");
    log(HEADER[0].replace("| run |", "| run | latency-bound ceiling |"));
    log(HEADER[1] + "---|");
    for (const r of sweep) {
      const c = Number(r.env.CONCURRENCY);
      log(row(r).replace(`| ${r.label} |`, `| ${r.label} | ${fmt((c * 10000) / cycle)} |`));
    }
    log("");
    let knee = sweep.at(-1);
    for (let i = 0; i < sweep.length - 1; i++) {
      if (sweep[i + 1].rate < sweep[i].rate * 1.1) {
        knee = sweep[i];
        break;
      }
    }
    const best = sweep.reduce((a, b) => (b.rate > a.rate ? b : a));
    const cores = machine.cores;
    const busy = knee.serviceCores + knee.backendCores + knee.driverCores + knee.otherCores;
    const why = [];
    if (knee.serviceCores > 0.85) why.push(`the service process uses ${knee.serviceCores.toFixed(2)} of a core (Node runs JavaScript on one thread: CPU-bound)`);
    if (busy > cores * 0.85) why.push(`the machine is near saturation: service ${knee.serviceCores.toFixed(2)} + emulator/proxy ${knee.backendCores.toFixed(2)} + driver ${knee.driverCores.toFixed(2)} + other load ${knee.otherCores.toFixed(2)} of ${cores} cores`);
    if (knee.otherCores > 0.5) why.push(`other work on the machine took ${knee.otherCores.toFixed(2)} cores during this step, so the knee may be noise: compare CPU s / 1000 msg`);
    if (!why.length) why.push(`neither CPU is saturated (service ${knee.serviceCores.toFixed(2)}, backend ${knee.backendCores.toFixed(2)} cores): latency/sockets bound`);
    log(`Throughput stops rising (next step < +10%) at CONCURRENCY=${knee.env.CONCURRENCY} (${fmt(knee.rate)} msg/s); best measured CONCURRENCY=${best.env.CONCURRENCY} (${fmt(best.rate)} msg/s). Why: ${why.join("; ")}.`);
    log(`Sockets: the service sizes its S3 agent to CONCURRENCY × MAX_MESSAGES_PER_POLL + 4 and its SQS agent to CONCURRENCY × 2 + 4, so sockets never cap a loop's batch.`);
    log("");
    results.sweep = { knee: knee.env.CONCURRENCY, best: best.env.CONCURRENCY };
  }

  if (SECTIONS.has("lean")) {
    console.log("service vs lean reference loop (interleaved)");
    const pairs = [];
    const c = opt.concurrency || "8";
    for (let i = 0; i < Number(opt["lean-pairs"]); i++) {
      const s = await measure({ label: `service CONCURRENCY=${c} (pair ${i + 1})`, kind: "service", n: N, env: { CONCURRENCY: c } });
      const l = await measure({ label: `lean loop, ${c} loops (pair ${i + 1})`, kind: "lean", n: N, env: { CONCURRENCY: c } });
      pairs.push([s, l]);
    }
    log("## Service vs a lean reference loop (same clients and PutObject shape, no service machinery)");
    log("");
    log(HEADER.join("\n"));
    for (const [s, l] of pairs) log(`${row(s)}\n${row(l)}`);
    const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const sc = avg(pairs.map((p) => p[0].cpuPer1000));
    const lc = avg(pairs.map((p) => p[1].cpuPer1000));
    log("");
    log(`CPU per 1000 messages: service ${sc.toFixed(2)} s, lean loop ${lc.toFixed(2)} s: the service's own machinery costs ${((sc - lc) * 1000 / 1000).toFixed(3)} ms per message (${fmt(((sc - lc) / lc) * 100)}%).`);
    log("");
  }

  if (SECTIONS.has("keepup")) {
    const rate = Number(opt["keepup-rate"]) || Math.max(100, Math.round(((def?.rate ?? 1000) * 0.6) / 10) * 10);
    const seconds = Number(opt["keepup-seconds"]);
    console.log(`latency while keeping up: producer at ${rate} msg/s for ${seconds} s`);
    const k = await measure({ label: `${defaultLabel}, producer ${rate} msg/s for ${seconds} s`, kind: "service", n: 0, env: svcEnv(), keepup: { rate, seconds } });
    log("## Latency while keeping up (SentTimestamp → archivedAt, producer paced below capacity, queue starts empty)");
    log("");
    log(`Producer ${rate} msg/s (≈60% of the measured default rate) for ${seconds} s: p50 ${fmt(k.p50ms)} ms, p99 ${fmt(k.p99ms)} ms, max ${fmt(k.maxMs)} ms over ${k.sampled} sampled archives; ` +
      `service histogram p99 ≤ ${fmt(k.metrics?.ageP99, 2)} s; service CPU ${k.serviceCores.toFixed(2)} cores; peak RSS ${fmt(k.peakRssMB)} MB. (Target: p99 < 1 s.)`);
    log("");
  }

  if (SECTIONS.has("memory")) {
    console.log(`memory: ${MEMORY_N}-message backlog`);
    const m = await measure({ label: `${defaultLabel}, ${MEMORY_N} backlog`, kind: "service", n: MEMORY_N, env: svcEnv() });
    log(`## Memory with a ${MEMORY_N}-message backlog (1 KiB)`);
    log("");
    let m2;
    if (opt["memory-node-options"]) {
      m2 = await measure({ label: `${defaultLabel}, ${MEMORY_N} backlog, NODE_OPTIONS=${opt["memory-node-options"]}`, kind: "service", n: MEMORY_N, env: svcEnv({ NODE_OPTIONS: opt["memory-node-options"] }) });
    }
    log(HEADER.join("\n"));
    log(row(m));
    if (m2) log(row(m2));
    log("");
    log(`Peak RSS ${fmt(m.peakRssMB)} MB (VmHWM; target < 200 MB) while draining ${MEMORY_N} messages at ${fmt(m.rate)} msg/s` +
      (m2 ? `; ${fmt(m2.peakRssMB)} MB at ${fmt(m2.rate)} msg/s with NODE_OPTIONS=${opt["memory-node-options"]}` : "") +
      `. In-flight work is bounded by CONCURRENCY × MAX_MESSAGES_PER_POLL messages, not by the backlog.`);
    log("");
  }

  if (SECTIONS.has("cpuprof")) {
    console.log("CPU profile of the default configuration");
    const dir = `${OUT}cpuprof-${Date.now()}`;
    mkdirSync(dir, { recursive: true });
    const p = await measure({ label: `${defaultLabel}, --cpu-prof`, kind: "service", n: N, env: svcEnv(), nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`] });
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    log("## CPU profile (default configuration, 1 KiB, injected latency)");
    log("");
    if (file) {
      const s = summariseProfile(JSON.parse(readFileSync(`${dir}/${file}`, "utf8")), 25);
      log(`Profile: bench/out/${dir.split("/").at(-1)}/${file}; ${fmt(p.rate)} msg/s under the profiler. Self time by area:`);
      log("");
      log("| area | self ms | share |");
      log("|---|---|---|");
      for (const a of s.areas.slice(0, 12)) log(`| ${a.name} | ${fmt(a.ms)} | ${fmt(a.share * 100, 1)}% |`);
      log("");
      log("Top self-time functions:");
      log("");
      log("| function | location | self ms | share |");
      log("|---|---|---|---|");
      for (const f of s.functions) log(`| ${f.name} | ${f.where} | ${fmt(f.ms)} | ${fmt(f.share * 100, 1)}% |`);
      log("");
    } else {
      log("(no .cpuprofile written: the service did not exit cleanly)");
    }
  }
  if (SECTIONS.has("replay")) {
    // Replay throughput: bench/replay.mjs runs the CLI against its own backend process behind the same proxy.
    const out = execFileSync(process.execPath, [`${ROOT}bench/replay.mjs`, ...(quick ? ["--quick"] : []), "--sqs", opt.sqs, "--put", opt.put], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    for (const l of out.trimEnd().split("\n")) log(l);
    log("");
  }
} finally {
  await backend.close();
}

machine.loadAtEnd = os.loadavg().map((x) => x.toFixed(2)).join(" ");
log(`load average at end: ${machine.loadAtEnd}. "other load" = machine busy CPU not used by the service, the backend or this driver (other work on the machine).`);
const stamp = results.startedAt.replace(/[:.]/g, "-");
writeFileSync(`${OUT}results-${stamp}.json`, JSON.stringify(results, null, 2));
writeFileSync(`${OUT}report-${stamp}.md`, lines.join("\n") + "\n");
console.log(`\nwrote bench/out/results-${stamp}.json and bench/out/report-${stamp}.md`);
if (opt["update-results"]) {
  const path = `${ROOT}bench/RESULTS.md`;
  const begin = "<!-- bench:begin -->";
  const end = "<!-- bench:end -->";
  const text = existsSync(path) ? readFileSync(path, "utf8") : `# Benchmark results\n\n${begin}\n${end}\n`;
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a >= 0 && b > a) {
    writeFileSync(path, `${text.slice(0, a + begin.length)}\n${lines.join("\n")}\n${text.slice(b)}`);
    console.log("updated bench/RESULTS.md");
  }
}
