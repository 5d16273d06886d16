// Benchmark backend, run as its own process (forked by bench/run.mjs): the fauxqs emulator plus the
// latency-injecting proxy from test/support. Talks to the parent over IPC only.
import { startFauxqs } from "fauxqs";
import { startAwsProxy } from "../test/support/aws-proxy.ts";

const latency = JSON.parse(process.env.BENCH_LATENCY ?? '{"sqs":10,"PutObject":25}');
const conditionalWrites = process.env.BENCH_CONDITIONAL === "true";

const fauxqs = await startFauxqs({ port: 0, logger: false, host: "localhost" });
const proxy = await startAwsProxy({ upstream: fauxqs.address, latencyMs: latency, conditionalWrites });

const handlers = {
  setLatency: ({ latency: l }) => {
    proxy.setLatency(l);
    return { ok: true };
  },
  createQueue: ({ name, attributes }) => fauxqs.createQueue(name, attributes ? { attributes } : undefined),
  createBucket: ({ name }) => fauxqs.createBucket(name),
  // Drops every message and object (the emulator keeps them in memory) so runs do not accumulate.
  reset: ({ queues = [] }) => {
    for (const q of queues) fauxqs.deleteQueue(q);
    fauxqs.reset();
    proxy.clearFaults();
    proxy.counts.clear();
    proxy.sqsRequests.length = 0;
    return { ok: true };
  },
  counts: () => Object.fromEntries(proxy.counts),
  gc: () => {
    globalThis.gc?.();
    return { rss: process.memoryUsage().rss };
  },
};

process.on("message", async (msg) => {
  const { id, cmd, ...args } = msg;
  try {
    const result = await handlers[cmd](args);
    process.send({ id, result: result ?? null });
  } catch (err) {
    process.send({ id, error: String(err?.stack ?? err) });
  }
});
process.on("disconnect", async () => {
  await proxy.close().catch(() => {});
  await fauxqs.stop().catch(() => {});
  process.exit(0);
});

process.send({ ready: true, emulator: fauxqs.address.replace("localhost", "127.0.0.1"), proxy: proxy.url, pid: process.pid, latency, conditionalWrites });
