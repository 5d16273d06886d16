// Bare SDK PutObject loop: the floor for one object per message. PUTS PutObjects of a 1 KiB body with
// If-None-Match: *, PARALLEL at once, from an SDK-default S3Client against a do-nothing local HTTP server
// (bench/null-server.mjs, another process). Measures its own CPU (process.cpuUsage) over the timed puts only, after
// WARMUP puts, and prints one JSON line.
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

const endpoint = process.env.ENDPOINT;
const puts = Number(process.env.PUTS ?? 20000);
const warmup = Number(process.env.WARMUP ?? 2000);
const parallel = Number(process.env.PARALLEL ?? 32);
const size = Number(process.env.BODY_BYTES ?? 1024);
const s3 = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true, credentials: { accessKeyId: "bench", secretAccessKey: "bench" } });
const body = Buffer.from("x".repeat(size));

async function run(n, offset) {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      await s3.send(
        new PutObjectCommand({ Bucket: "bare", Key: `sqs-messages/2026/01/01/00/${offset + i}-0000-0000-0000-000000000000.json`, Body: body, ContentLength: body.length, ContentType: "application/json", IfNoneMatch: "*", Metadata: { "message-id": String(offset + i), "sent-timestamp": "1767225600000", "schema-version": "1" } }),
      );
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
console.log(JSON.stringify({ puts, parallel, size, wallSeconds: wall, putsPerSecond: puts / wall, cpuSeconds: cpu, cpuMsPerPut: (cpu / puts) * 1000, rssMB: process.memoryUsage().rss / 2 ** 20 }));
s3.destroy();
