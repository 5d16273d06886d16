// Bare SDK PutObject loop: the floor for one object per message. PUTS PutObjects of a 1 KiB body with
// If-None-Match: *, PARALLEL at once, from an SDK-default S3Client against a do-nothing local HTTP server
// (bench/null-server.mjs, another process). Measures its own CPU (process.cpuUsage) over the timed puts only, after
// WARMUP puts, and prints one JSON line.
import { hash } from "node:crypto";
import { setMaxListeners } from "node:events";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

const endpoint = process.env.ENDPOINT;
const puts = Number(process.env.PUTS ?? 20000);
const warmup = Number(process.env.WARMUP ?? 2000);
const parallel = Number(process.env.PARALLEL ?? 32);
const size = Number(process.env.BODY_BYTES ?? 1024);
// VARIANTS (comma list) measure single costs against the SDK-default put: "md5" = no flexible checksum
// (requestChecksumCalculation WHEN_REQUIRED) and a Content-MD5 instead; "signal" = AbortSignal.any + AbortSignal.timeout
// per put; "sharedsignal" = one such signal per second (src/sinks/message-sink.ts); "attemptlog" = one per-command deserialize middleware per put (as src/sinks/s3-writer.ts adds).
const variants = new Set((process.env.VARIANTS ?? "").split(",").filter(Boolean));
const s3 = new S3Client({
  region: "us-east-1",
  endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  ...(variants.has("md5") ? { requestChecksumCalculation: "WHEN_REQUIRED" } : {}),
});
const shutdown = new AbortController();
let shared;
function sharedSignal() {
  const t = performance.now();
  if (shared && t < shared.until) return shared.signal;
  const signal = AbortSignal.any([shutdown.signal, AbortSignal.timeout(120_000)]);
  setMaxListeners(0, signal);
  shared = { signal, until: t + 1000 };
  return signal;
}
const body = Buffer.from("x".repeat(size));

async function run(n, offset) {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const command = new PutObjectCommand({
        Bucket: "bare",
        Key: `sqs-messages/2026/01/01/00/${offset + i}-0000-0000-0000-000000000000.json`,
        Body: body,
        ContentLength: body.length,
        ContentType: "application/json",
        IfNoneMatch: "*",
        Metadata: { "message-id": String(offset + i), "sent-timestamp": "1767225600000", "schema-version": "1" },
        ...(variants.has("md5") ? { ContentMD5: hash("md5", body, "base64") } : {}),
      });
      if (variants.has("attemptlog")) {
        const log = [];
        command.middlewareStack.add(
          (next) => async (args) => {
            const out = await next(args);
            log.push(out.response?.statusCode);
            return out;
          },
          { step: "deserialize", name: "attemptLog", priority: "high" },
        );
      }
      if (variants.has("sharedsignal")) await s3.send(command, { abortSignal: sharedSignal() });
      else if (variants.has("signal")) await s3.send(command, { abortSignal: AbortSignal.any([shutdown.signal, AbortSignal.timeout(120_000)]) });
      else await s3.send(command);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

await run(warmup, 0);
const c0 = process.cpuUsage();
const t0 = performance.now();
await run(puts, warmup);
const wall = (performance.now() - t0) / 1000;
const c = process.cpuUsage(c0);
const cpu = (c.user + c.system) / 1e6;
console.log(JSON.stringify({ variants: [...variants].join(",") || "default", puts, parallel, size, wallSeconds: wall, putsPerSecond: puts / wall, cpuSeconds: cpu, cpuMsPerPut: (cpu / puts) * 1000, rssMB: process.memoryUsage().rss / 2 ** 20 }));
s3.destroy();
