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
  freePort, histogramQuantile, listObjects, machineBusy, preloadEach, readNdjson, makeBody, metricValue, parseMetrics, preload, procCpu, procMem,
  quantile, queueDepth, sampleLatencies, sleep, startBackend, steadyWindow,
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
    only: { type: "string", default: process.env.BENCH_ONLY ?? "baselines,default,profiles,zero,sweep,keepup,memory,cpuprof,ndjson,codecs,ndjson-keepup,replay,compact,verify" },
    "lean-pairs": { type: "string", default: "2" },
    rounds: { type: "string", default: "3" },
    "ndjson-n": { type: "string", default: "100000" },
    "compact-n": { type: "string", default: "1000000" },
    "bare-puts": { type: "string", default: "20000" },
    codecs: { type: "string", default: "zstd,none" },
    "codec-n": { type: "string", default: "50000" },
    "ndjson-keepup": { type: "string", default: "1000x60,100x90" },
    "big-n": { type: "string", default: "320" },
    "big-matrix": { type: "string", default: "full" },
    "alt-dist": { type: "string", default: "dist/_alt" },
    "alt-env": { type: "string", default: "" },
    "ab-env": { type: "string", default: "" },
    "big-bodies": { type: "string", default: "quotes,newlines" },
    "big-modes": { type: "string", default: "message,ndjson" },
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
  --only LIST         sections (default list): baselines,default,profiles,zero,sweep,keepup,memory,cpuprof,
                      ndjson (ndjson vs message mode vs a bare SDK PutObject loop, interleaved --rounds),
                      codecs (gzip/zstd/none), ndjson-keepup (durability latency while keeping up),
                      replay (bench/replay.mjs: sqs-archiver replay --rate 0 from both layouts),
                      compact (bench/compact.mjs: sqs-archiver compact over a 1M-message hour; --compact-n N),
                      verify (bench/verify.mjs: sqs-archiver verify, msg/s per core and peak RSS).
                      Not in the default list: "lean" (the service vs bench/lean-loop.mjs, interleaved --lean-pairs
                      times), "msgcpu" (message mode vs the bare PutObject loop only), "altdist" (A/B of dist/ vs
                      --alt-dist, another build), "bigbody" (1 MiB worst-case memory matrix, ~7 min)
  --rounds R          interleaved rounds for ndjson / msgcpu / altdist (3)
  --ndjson-n N        backlog for the ndjson rounds (100000); --bare-puts P: puts per bare-loop run (20000)
  --codecs LIST --codec-n N   codecs compared with gzip (zstd,none) and their backlog (50000)
  --ndjson-keepup RxS,...     ndjson keep-up runs: producer R msg/s for S s (1000x60,100x90)
  --big-n N --big-bodies quotes,newlines --big-modes message,ndjson --big-matrix full|quick   the bigbody matrix
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
async function measure({ label, kind, n, bodySize = 1024, bodyFn, env = {}, latency = LATENCY, nodeArgs = [], keepup, sample = SAMPLE }) {
  const id = ++runSeq;
  const queueName = `bench-${id}`;
  const bucket = `bench-${id}`;
  await backend.call("setLatency", { latency });
  const { queueUrl } = await backend.call("createQueue", { name: queueName });
  await backend.call("createBucket", { name: bucket });
  const tPreload = performance.now();
  if (n > 0 && bodyFn) await preloadEach(backend.sqs, queueUrl, n, bodyFn);
  else if (n > 0) await preload(backend.sqs, queueUrl, n, bodySize);
  const preloadSeconds = (performance.now() - tPreload) / 1000;
  const ndjson = env.ARCHIVE_FORMAT === "ndjson";
  const total = n + (keepup ? keepup.rate * keepup.seconds : 0);
  await sleep(300);

  const healthPort = await freePort();
  const script = { service: `${ROOT}dist/main.js`, alt: `${ROOT}${opt["alt-dist"]}/main.js`, naive: `${ROOT}bench/baseline-naive.mjs`, consumer: `${ROOT}bench/baseline-sqs-consumer.mjs`, lean: `${ROOT}bench/lean-loop.mjs` }[kind];
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
  // (ms since t0, queue depth, service CPU s): the steady-state window is taken from it afterwards.
  const timeline = [];
  let peakHeap = 0;
  let peakHeapTotal = 0;
  let peakExternal = 0;
  let tEnd = null;
  const timeoutMs = Math.max(120_000, (total / 5) * 1000);
  while (performance.now() - t0 < timeoutMs) {
    await sleep(50);
    if (exited) break;
    const m = procMem(child.pid);
    peakRss = Math.max(peakRss, Number.isFinite(m.hwm) ? m.hwm : 0, Number.isFinite(m.rss) ? m.rss : 0);
    const depth = await queueDepth(backend.sqs, queueUrl);
    timeline.push([performance.now() - t0, depth, procCpu(child.pid)]);
    // Heap used (the service's own metric), every ~10th sample: what the RSS peak is made of.
    if ((kind === "service" || kind === "alt") && timeline.length % 10 === 0) {
      try {
        const hm = parseMetrics(await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text());
        peakHeap = Math.max(peakHeap, metricValue(hm, "nodejs_heap_size_used_bytes"));
        peakHeapTotal = Math.max(peakHeapTotal, metricValue(hm, "nodejs_heap_size_total_bytes"));
        peakExternal = Math.max(peakExternal, metricValue(hm, "nodejs_external_memory_bytes"));
      } catch {
        /* not up yet */
      }
    }
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
  if (kind === "service" || kind === "alt") {
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
  let crashNote;
  if (!complete && exited) {
    const text = readFileSync(`${OUT}logs/${id}-${label.replace(/[^\w.-]+/g, "_")}.log`, "utf8");
    crashNote = /heap out of memory/i.test(text) ? "V8 heap out of memory" : /FATAL ERROR[^\n]*/.exec(text)?.[0];
  }

  const objs = await listObjects(backend.s3, bucket);
  const keys = objs.map((o) => o.key);
  const storedBytes = objs.reduce((a, o) => a + o.size, 0);
  let nd = null;
  let lat;
  if (ndjson) {
    nd = await readNdjson(backend.s3, bucket, { putMs: latency.PutObject });
    lat = nd.durable;
  } else {
    lat = sample > 0 ? await sampleLatencies(backend.s3, bucket, keys, sample) : [];
  }
  const counts = await backend.call("counts");
  await backend.call("reset", { queues: [queueName] });

  const r = {
    id, label, kind, n: total, bodySize, latency, env,
    complete, objects: keys.length, verified: ndjson ? nd.unique === total && nd.bad === 0 : keys.length === total,
    ndjson: nd && { objects: nd.objects, lines: nd.lines, unique: nd.unique, duplicates: nd.lines - nd.unique, bad: nd.bad, uncompressedBytes: nd.uncompressed, perObject: nd.perObject },
    latencyKind: ndjson ? "SentTimestamp -> object stored (LastModified + injected PUT latency), every line" : "SentTimestamp -> archivedAt (sampled objects)",
    preloadSeconds,
    storedBytes, bytesPerMsg: storedBytes / total,
    puts: counts.PutObject ?? 0, putsPerMsg: (counts.PutObject ?? 0) / total,
    sqsCalls: ["ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"].reduce((a, k) => a + (counts[k] ?? 0), 0),
    steady: steadyWindow(timeline, n),
    timeline: timeline.filter((_, i) => i % 4 === 0).map(([t, d, c]) => [Math.round(t), d, c]),
    wallSeconds: wall,
    rate: total / wall,
    activeRate: firstDrop ? total / ((tEnd - firstDrop) / 1000) : NaN,
    startupSeconds: firstDrop ? (firstDrop - t0) / 1000 : NaN,
    p50ms: quantile(lat, 0.5), p99ms: quantile(lat, 0.99), maxMs: lat.at(-1), sampled: lat.length,
    peakHeapUsedMB: peakHeap / 2 ** 20, peakHeapTotalMB: peakHeapTotal / 2 ** 20, peakExternalMB: peakExternal / 2 ** 20,
    peakRssMB: Math.max(Number.isFinite(mem.hwm) ? mem.hwm : 0, peakRss) / 2 ** 20,
    cpuSeconds: cpu,
    cpuPer1000: (cpu / total) * 1000,
    serviceCores: cpu / wall,
    backendCores: backendCpu / wall,
    driverCores: driverCpu / wall,
    otherCores: Math.max(0, (machineCpu - cpu - backendCpu - driverCpu) / wall),
    exit: exited, stopSeconds, crashNote,
    ops: counts,
    metrics: metrics && {
      archived: metricValue(metrics, "sqs_archiver_messages_archived_total"),
      deleted: metricValue(metrics, "sqs_archiver_messages_deleted_total"),
      ageP50: histogramQuantile(metrics, "sqs_archiver_message_age_seconds", 0.5),
      ageP99: histogramQuantile(metrics, "sqs_archiver_message_age_seconds", 0.99),
      rssMB: metricValue(metrics, "process_resident_memory_bytes") / 2 ** 20,
      flushes: Object.fromEntries((metrics.sqs_archiver_batch_flushes_total ?? []).map((x) => [x.labels.reason, x.value])),
      batches: metricValue(metrics, "sqs_archiver_batches_written_total"),
      duplicates: metricValue(metrics, "sqs_archiver_duplicate_deliveries_total"),
      archivedNotDeleted: metricValue(metrics, "sqs_archiver_archived_not_deleted_total"),
      failures: (metrics.sqs_archiver_failures_total ?? []).filter((x) => x.value > 0).map((x) => ({ ...x.labels, value: x.value })),
    },
  };
  results.runs.push(r);
  const flag = r.verified && r.complete ? "" : `  !! ${r.complete ? "" : "TIMED OUT "}objects ${r.objects}/${total}`;
  console.log(
    `  [${label}] ${fmt(r.rate)} msg/s (N=${total}, ${r.wallSeconds.toFixed(1)} s), p50 ${fmt(r.p50ms)} ms p99 ${fmt(r.p99ms)} ms, ` +
      `RSS ${fmt(r.peakRssMB)} MB (heap used ≤ ${fmt(r.peakHeapUsedMB)}, total ≤ ${fmt(r.peakHeapTotalMB)}, external ≤ ${fmt(r.peakExternalMB)}), ${r.cpuPer1000.toFixed(2)} CPU s/1000, cores: svc ${r.serviceCores.toFixed(2)} backend ${r.backendCores.toFixed(2)} other ${r.otherCores.toFixed(2)}, exit ${exited.code ?? exited.signal}${flag}` +
      `; steady ${fmt(r.steady?.rate)} msg/s ${fmt(r.steady?.cpuMsPerMsg, 3)} CPU ms/msg; PUT/msg ${fmt(r.putsPerMsg, 4)}${r.metrics?.flushes && Object.keys(r.metrics.flushes).length ? `; flushes ${flushText(r)}` : ""}${r.crashNote ? ` (${r.crashNote})` : ""}`,
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
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ND_HEADER = [
  "| run | N | msg/s | steady msg/s | PUTs | PUT / msg | CPU ms/msg (steady) | CPU ms/msg (whole run) | service cores | backend cores | other load | peak RSS MB | latency p50 / p99 s | flushes | N read back |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
];
const flushText = (r) => {
  const f = r.metrics?.flushes ?? {};
  const parts = Object.entries(f).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(", ") : "—";
};
const ndRow = (r) =>
  `| ${r.label} | ${r.n} | ${fmt(r.rate)} | ${fmt(r.steady?.rate)} | ${r.puts} | ${fmt(r.putsPerMsg, r.putsPerMsg < 0.1 ? 5 : 3)} | ${fmt(r.steady?.cpuMsPerMsg, 3)} | ${r.cpuPer1000.toFixed(3)} | ${r.serviceCores.toFixed(2)} | ${r.backendCores.toFixed(2)} | ${r.otherCores.toFixed(2)} | ${fmt(r.peakRssMB)} | ${fmt(r.p50ms / 1000, 1)} / ${fmt(r.p99ms / 1000, 1)} | ${flushText(r)} | ${r.verified ? "yes" : `NO (${r.ndjson ? `${r.ndjson.unique} distinct` : r.objects})`}${r.ndjson?.duplicates ? `, ${r.ndjson.duplicates} duplicate lines` : ""} |`;

let nullServer;
/** The do-nothing HTTP server for the bare PutObject loop, its own process, started on first use. */
async function nullServerPort() {
  if (!nullServer) {
    const child = spawn(process.execPath, [`${ROOT}bench/null-server.mjs`], { stdio: ["ignore", "pipe", "inherit"], env: { PATH: process.env.PATH } });
    const port = await new Promise((resolve, reject) => {
      child.stdout.once("data", (d) => resolve(Number(String(d).trim())));
      child.once("exit", (c) => reject(new Error(`null server exited ${c}`)));
    });
    nullServer = { child, port };
  }
  return nullServer.port;
}

/** bench/bare-put.mjs against the do-nothing server, with the service's NODE_OPTIONS; CPU measured by the loop itself over the timed puts. */
async function measureBare({ label, puts }) {
  const port = await nullServerPort();
  const child = spawn(process.execPath, [`${ROOT}bench/bare-put.mjs`], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { PATH: process.env.PATH, ENDPOINT: `http://127.0.0.1:${port}`, PUTS: String(puts), ...(opt["node-options"] ? { NODE_OPTIONS: opt["node-options"] } : {}) },
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const m0 = machineBusy();
  const t0 = performance.now();
  const code = await new Promise((r) => child.on("exit", r));
  const wall = (performance.now() - t0) / 1000;
  const r = { label, kind: "bare", exit: code, ...JSON.parse(out.trim().split("\n").at(-1)), machineCores: (machineBusy() - m0) / wall };
  results.runs.push(r);
  console.log(`  [${label}] ${fmt(r.putsPerSecond)} puts/s, ${r.cpuMsPerPut.toFixed(3)} CPU ms/put, RSS ${fmt(r.rssMB)} MB, machine busy ${r.machineCores.toFixed(2)} cores`);
  return r;
}
const svcEnv = (extra = {}) => ({ ...(opt.concurrency ? { CONCURRENCY: opt.concurrency } : {}), ...(opt["node-options"] ? { NODE_OPTIONS: opt["node-options"] } : {}), ...extra });
const defaultLabel = (opt.concurrency ? `service CONCURRENCY=${opt.concurrency}` : "service (default config)") + (opt["node-options"] ? ` NODE_OPTIONS=${opt["node-options"]}` : "");

// ---------------------------------------------------------------------------------------------------------------
const headline = [];
const abRounds = [];
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

  if (SECTIONS.has("ndjson")) {
    const R = quick ? 1 : Number(opt.rounds);
    const NDN = quick ? 10000 : Number(opt["ndjson-n"]);
    const PUTS = quick ? 4000 : Number(opt["bare-puts"]);
    console.log(`ndjson vs message mode vs a bare SDK PutObject loop, ${R} interleaved rounds`);
    for (let i = 1; i <= R; i++) {
      const steps = {
        bare: () => measureBare({ label: `bare SDK PutObject loop (round ${i})`, puts: PUTS }),
        msg: () => measure({ label: `message mode, ${N} backlog (round ${i})`, kind: "service", n: N, env: svcEnv() }),
        nd: () => measure({ label: `ndjson gzip, ${NDN} backlog (round ${i})`, kind: "service", n: NDN, env: svcEnv({ ARCHIVE_FORMAT: "ndjson" }) }),
      };
      // Rotate the order each round so a drift in machine load does not favour one of them.
      const order = [["bare", "msg", "nd"], ["nd", "bare", "msg"], ["msg", "nd", "bare"]][(i - 1) % 3];
      const round = {};
      for (const k of order) round[k] = await steps[k]();
      abRounds.push(round);
    }
    const med = (xs) => median(xs.filter(Number.isFinite));
    log(`## Batched mode (ARCHIVE_FORMAT=ndjson) beside message mode, and a bare SDK PutObject loop (${R} interleaved rounds)`);
    log("");
    log(`Same backend and latency proxy (SQS ${LATENCY.sqs} ms, PutObject ${LATENCY.PutObject} ms), 1 KiB bodies, default thresholds (BATCH_MAX_MESSAGES 10000, BATCH_MAX_BYTES 16 MiB, BATCH_MAX_SECONDS 60, gzip). ` +
      `"steady" = from the queue at 90% of the backlog to 10% (startup, the first batch's fill and the tail excluded). PUTs counted at the proxy.`);
    log("");
    log(ND_HEADER.join("\n"));
    for (const r of abRounds) for (const k of ["msg", "nd"]) log(ndRow(r[k]));
    log("");
    log("| bare SDK PutObject loop | puts | puts/s | CPU ms per put | peak RSS MB |");
    log("|---|---|---|---|---|");
    for (const r of abRounds) log(`| ${r.bare.label} | ${r.bare.puts} | ${fmt(r.bare.putsPerSecond)} | ${fmt(r.bare.cpuMsPerPut, 3)} | ${fmt(r.bare.rssMB)} |`);
    log("");
    const rateRatio = med(abRounds.map((r) => r.nd.rate / r.msg.rate));
    const steadyRatio = med(abRounds.map((r) => (r.nd.steady?.rate ?? NaN) / (r.msg.steady?.rate ?? NaN)));
    const cpuRatio = med(abRounds.map((r) => (r.msg.steady?.cpuMsPerMsg ?? NaN) / r.bare.cpuMsPerPut));
    const cpuRatioWhole = med(abRounds.map((r) => r.msg.cpuPer1000 / r.bare.cpuMsPerPut));
    log(`Medians over ${R} rounds: message mode ${fmt(med(abRounds.map((r) => r.msg.rate)))} msg/s (steady ${fmt(med(abRounds.map((r) => r.msg.steady?.rate)))}), ` +
      `ndjson ${fmt(med(abRounds.map((r) => r.nd.rate)))} msg/s (steady ${fmt(med(abRounds.map((r) => r.nd.steady?.rate)))}).`);
    log(`- ndjson ÷ message mode msg/s (median of per-round ratios): **${fmt(rateRatio, 2)}×** whole run, **${fmt(steadyRatio, 2)}×** steady (target ≥ 4×).`);
    log(`- PUTs per message: ndjson ${fmt(med(abRounds.map((r) => r.nd.putsPerMsg)), 5)} (target ≤ 0.01), message mode ${fmt(med(abRounds.map((r) => r.msg.putsPerMsg)), 3)}.`);
    log(`- Peak RSS: ndjson ${fmt(Math.max(...abRounds.map((r) => r.nd.peakRssMB)))} MB worst of ${R} on a ${NDN} backlog (target ≤ 256 MB); message mode ${fmt(Math.max(...abRounds.map((r) => r.msg.peakRssMB)))} MB.`);
    log(`- CPU per message: message mode ${fmt(med(abRounds.map((r) => r.msg.steady?.cpuMsPerMsg)), 3)} ms steady (${fmt(med(abRounds.map((r) => r.msg.cpuPer1000)), 3)} ms whole run, startup included); ` +
      `ndjson ${fmt(med(abRounds.map((r) => r.nd.steady?.cpuMsPerMsg)), 3)} ms steady (${fmt(med(abRounds.map((r) => r.nd.cpuPer1000)), 3)} ms whole run); bare PutObject ${fmt(med(abRounds.map((r) => r.bare.cpuMsPerPut)), 3)} ms per put.`);
    log(`- Message mode's CPU per message ÷ the bare loop's CPU per put (median of per-round ratios): **${fmt(cpuRatio, 2)}×** steady, ${fmt(cpuRatioWhole, 2)}× whole run (target ≤ 1.25×).`);
    log("");
  }

  if (SECTIONS.has("msgcpu")) {
    const R = quick ? 1 : Number(opt.rounds);
    const PUTS = quick ? 4000 : Number(opt["bare-puts"]);
    console.log(`message mode vs a bare SDK PutObject loop, ${R} interleaved rounds`);
    const rounds = [];
    for (let i = 1; i <= R; i++) {
      const steps = {
        bare: () => measureBare({ label: `bare SDK PutObject loop (round ${i})`, puts: PUTS }),
        msg: () => measure({ label: `message mode, ${N} backlog (round ${i})`, kind: "service", n: N, env: svcEnv() }),
      };
      const round = {};
      for (const k of i % 2 ? ["bare", "msg"] : ["msg", "bare"]) round[k] = await steps[k]();
      rounds.push(round);
    }
    const med = (xs) => median(xs.filter(Number.isFinite));
    log(`## Message mode's CPU per message vs a bare SDK PutObject loop (${R} interleaved rounds)`);
    log("");
    log("| round | bare CPU ms/put | message mode CPU ms/msg (steady) | (whole run) | ratio (steady) | message mode steady msg/s | other load |");
    log("|---|---|---|---|---|---|---|");
    rounds.forEach((r, i) => log(`| ${i + 1} | ${fmt(r.bare.cpuMsPerPut, 3)} | ${fmt(r.msg.steady?.cpuMsPerMsg, 3)} | ${r.msg.cpuPer1000.toFixed(3)} | ${fmt((r.msg.steady?.cpuMsPerMsg ?? NaN) / r.bare.cpuMsPerPut, 2)} | ${fmt(r.msg.steady?.rate)} | ${r.msg.otherCores.toFixed(2)} |`));
    log("");
    log(`Median ratio (steady): **${fmt(med(rounds.map((r) => (r.msg.steady?.cpuMsPerMsg ?? NaN) / r.bare.cpuMsPerPut)), 2)}×**; whole run ${fmt(med(rounds.map((r) => r.msg.cpuPer1000 / r.bare.cpuMsPerPut)), 2)}× (target ≤ 1.25×).`);
    log("");
  }

  if (SECTIONS.has("altdist")) {
    // A/B of two builds of the service (dist/ vs --alt-dist, e.g. `npx tsc -p tsconfig.build.json --outDir dist/_alt`
    // on another revision), message mode, interleaved; --alt-env K=V,... adds env to the alt runs only.
    const R = Number(opt.rounds);
    const kv = (x) => Object.fromEntries(x.split(",").filter(Boolean).map((e) => e.split("=")));
    const abEnv = kv(opt["ab-env"]);
    const altEnv = { ...abEnv, ...kv(opt["alt-env"]) };
    const pairs = [];
    for (let i = 1; i <= R; i++) {
      const a = () => measure({ label: `dist (round ${i})`, kind: "service", n: N, env: svcEnv(abEnv) });
      const b = () => measure({ label: `${opt["alt-dist"]} (round ${i})`, kind: "alt", n: N, env: svcEnv(altEnv) });
      const pair = i % 2 ? [await a(), await b()] : [null, await b()];
      if (!pair[0]) pair[0] = await a();
      pairs.push(pair);
    }
    const med = (xs) => median(xs.filter(Number.isFinite));
    log(`## A/B: dist vs ${opt["alt-dist"]}${opt["alt-env"] ? ` (${opt["alt-env"]})` : ""}${opt["ab-env"] ? `, both ${opt["ab-env"]}` : ", message mode"}, ${R} interleaved rounds`);
    log("");
    log("| round | dist CPU ms/msg steady | alt CPU ms/msg steady | alt ÷ dist | dist msg/s | alt msg/s | dist peak RSS MB | alt peak RSS MB |");
    log("|---|---|---|---|---|---|---|---|");
    pairs.forEach(([a, b], i) => log(`| ${i + 1} | ${fmt(a.steady?.cpuMsPerMsg, 3)} | ${fmt(b.steady?.cpuMsPerMsg, 3)} | ${fmt(b.steady?.cpuMsPerMsg / a.steady?.cpuMsPerMsg, 3)} | ${fmt(a.rate)} | ${fmt(b.rate)} | ${fmt(a.peakRssMB)} | ${fmt(b.peakRssMB)} |`));
    log(`\nMedian alt ÷ dist CPU per message: **${fmt(med(pairs.map(([a, b]) => b.steady?.cpuMsPerMsg / a.steady?.cpuMsPerMsg)), 3)}**\n`);
  }

  if (SECTIONS.has("codecs")) {
    const CN = quick ? 10000 : Number(opt["codec-n"]);
    const list = ["gzip", ...opt.codecs.split(",").filter((c) => c && c !== "gzip")];
    console.log(`ndjson codecs: ${list.join(", ")} on a ${CN} backlog`);
    const runs = [];
    // The emulator refuses request bodies over 11 MiB (fauxqs bodyLimit; S3 takes 5 GiB in one PUT): 10,000
    // uncompressed 1 KiB envelopes are ~15 MB, so "none" flushes at 10 MiB here.
    const codecEnv = (c) => ({ ARCHIVE_FORMAT: "ndjson", ARCHIVE_COMPRESSION: c, ...(c === "none" ? { BATCH_MAX_BYTES: String(10 * 1024 * 1024) } : {}) });
    for (const c of list) runs.push(await measure({ label: `ndjson ${c}, ${CN} backlog`, kind: "service", n: CN, env: svcEnv(codecEnv(c)) }));
    log(`## ndjson compression: gzip vs zstd vs none (${CN} × 1 KiB backlog, same run)`);
    log("");
    log("| ARCHIVE_COMPRESSION | msg/s | steady msg/s | CPU ms/msg (steady) | CPU ms/msg (whole run) | bytes stored per message | ratio to uncompressed | objects | peak RSS MB | all messages read back |");
    log("|---|---|---|---|---|---|---|---|---|---|");
    for (const r of runs) {
      log(`| ${r.env.ARCHIVE_COMPRESSION}${r.env.BATCH_MAX_BYTES ? ` (BATCH_MAX_BYTES ${r.env.BATCH_MAX_BYTES}: emulator body limit)` : ""} | ${fmt(r.rate)} | ${fmt(r.steady?.rate)} | ${fmt(r.steady?.cpuMsPerMsg, 3)} | ${r.cpuPer1000.toFixed(3)} | ${fmt(r.bytesPerMsg)} | ${fmt(r.storedBytes / (r.ndjson?.uncompressedBytes || NaN), 3)} | ${r.objects} | ${fmt(r.peakRssMB)} | ${r.verified ? "yes" : "NO"} |`);
    }
    log("");
  }

  if (SECTIONS.has("ndjson-keepup")) {
    const specs = opt["ndjson-keepup"].split(",").filter(Boolean).map((x) => x.split("x").map(Number));
    const runs = [];
    for (const [rate, seconds] of specs) {
      const s2 = quick ? Math.min(seconds, 20) : seconds;
      console.log(`ndjson keep-up: producer at ${rate} msg/s for ${s2} s`);
      runs.push(await measure({ label: `ndjson gzip, producer ${rate} msg/s for ${s2} s`, kind: "service", n: 0, env: svcEnv({ ARCHIVE_FORMAT: "ndjson" }), keepup: { rate, seconds: s2 } }));
    }
    log("## ndjson latency while keeping up (SentTimestamp → durable, producer paced below capacity, queue starts empty)");
    log("");
    log("Every line of every object read back: durable = the object's LastModified (when S3 stored it) + the injected PutObject latency − the line's sentAt. Default thresholds; the producer's last messages wait for BATCH_MAX_SECONDS (the age flush), as a slow trickle would.");
    log("");
    log("| producer | messages | p50 s | p99 s | max s | target p99 ≤ BATCH_MAX_SECONDS + 2 s | flushes by reason | PUTs | PUT/msg | service cores | peak RSS MB | every message read back |");
    log("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (const r of runs) {
      const lim = 62;
      log(`| ${r.label.split(", ").at(-1)} | ${r.n} | ${fmt(r.p50ms / 1000, 1)} | ${fmt(r.p99ms / 1000, 1)} | ${fmt(r.maxMs / 1000, 1)} | ${r.p99ms / 1000 <= lim ? "met" : "**missed**"} | ${flushText(r)} | ${r.puts} | ${fmt(r.putsPerMsg, 5)} | ${r.serviceCores.toFixed(2)} | ${fmt(r.peakRssMB)} | ${r.verified ? "yes" : "NO"} |`);
    }
    log("");
  }

  if (SECTIONS.has("bigbody")) {
    const BN = quick ? 80 : Number(opt["big-n"]);
    const MiB1 = 1024 * 1024;
    const bodies = { quotes: () => '"'.repeat(MiB1), newlines: () => "\n".repeat(MiB1) };
    const image = opt["node-options"] || "--max-semi-space-size=8";
    const nodeOpts = opt["big-matrix"] === "full"
      ? [image, `${image} --max-old-space-size=256`, `${image} --max-old-space-size=128`]
      : [image];
    const budgets = [["32 MiB (default for a 512 MiB container)", "33554432"], ["off (64 GiB)", String(64 * 1024 ** 3)]];
    const runs = [];
    console.log(`worst-case memory: ${BN} × 1 MiB bodies, CONCURRENCY 8 × 10`);
    for (const bname of opt["big-bodies"].split(",").filter(Boolean)) {
      const body = bodies[bname]();
      for (const mode of opt["big-modes"].split(",").filter(Boolean)) {
        for (const no of nodeOpts) {
          for (const [budgetLabel, budget] of budgets) {
            const env = { NODE_OPTIONS: no, MAX_INFLIGHT_BYTES: budget, ARCHIVE_FORMAT: mode, ...(mode === "ndjson" ? { BATCH_MAX_SECONDS: "5" } : {}) };
            const r = await measure({ label: `${bname} ${mode} ${no} budget ${budgetLabel}`, kind: "service", n: BN, bodyFn: () => body, env, sample: 0 });
            r.big = { body: bname, mode, nodeOptions: no, budget: budgetLabel };
            runs.push(r);
          }
        }
      }
    }
    log(`## Worst-case memory: 1 MiB bodies (issue 8 item 8)`);
    log("");
    log(`${BN} messages of exactly 1,048,576 bytes (SendMessage one by one), default CONCURRENCY 8 × MAX_MESSAGES_PER_POLL 10, real process. ` +
      `Bodies of \`"\` or of newlines: JSON escaping doubles each envelope to 2 MiB. ndjson runs use BATCH_MAX_SECONDS=5 only so a run does not wait a minute for its age flush (nothing else changes). ` +
      `Peak RSS = VmHWM sampled every ~50 ms and at the end.`);
    log("");
    log("| body | mode | NODE_OPTIONS | MAX_INFLIGHT_BYTES | peak RSS MB | outcome | msg/s | all archived |");
    log("|---|---|---|---|---|---|---|---|");
    for (const r of runs) {
      const outcome = r.complete ? `drained, exit ${r.exit.code ?? r.exit.signal}` : `**crashed: exit ${r.exit.code ?? r.exit.signal}**${r.crashNote ? ` (${r.crashNote})` : ""}`;
      log(`| ${r.big.body} | ${r.big.mode} | \`${r.big.nodeOptions}\` | ${r.big.budget} | ${fmt(r.peakRssMB)} | ${outcome} | ${r.complete ? fmt(r.rate) : "—"} | ${r.verified ? "yes" : `NO (${r.objects})`} |`);
    }
    log("");
    const ok = runs.filter((r) => r.complete && r.big.budget.startsWith("32"));
    if (ok.length) log(`Worst peak RSS with the default budget (32 MiB) among runs that drained: **${fmt(Math.max(...ok.map((r) => r.peakRssMB)))} MB**.`);
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
  if (SECTIONS.has("compact")) {
    // Compaction: bench/compact.mjs runs the CLI over one hour of batched 1 KiB messages against its own backend.
    const n = quick ? [] : ["--n", String(opt["compact-n"] ?? 1_000_000)];
    const out = execFileSync(process.execPath, [`${ROOT}bench/compact.mjs`, ...(quick ? ["--quick"] : []), ...n], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    for (const l of out.trimEnd().split("\n")) log(l);
    log("");
  }
  if (SECTIONS.has("verify")) {
    // Verify throughput and peak RSS: bench/verify.mjs runs the CLI against its own backend process.
    const out = execFileSync(process.execPath, [`${ROOT}bench/verify.mjs`, ...(quick ? ["--quick"] : [])], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    for (const l of out.trimEnd().split("\n")) log(l);
    log("");
  }
  if (SECTIONS.has("replay")) {
    // Replay throughput: bench/replay.mjs runs the CLI against its own backend process behind the same proxy.
    const out = execFileSync(process.execPath, [`${ROOT}bench/replay.mjs`, ...(quick ? ["--quick"] : []), "--sqs", opt.sqs, "--put", opt.put], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    for (const l of out.trimEnd().split("\n")) log(l);
    log("");
  }
} finally {
  nullServer?.child.kill("SIGTERM");
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
