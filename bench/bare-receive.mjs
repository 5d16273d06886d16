// The CPU floor of batched archiving: LOOPS loops of a bare SDK ReceiveMessage(10, all attributes) +
// DeleteMessageBatch(10) against a do-nothing local SQS (bench/null-sqs-server.mjs, another process), with the
// service's own envelope code (validate incl. MD5, build, serialize: dist/archive/envelope.js) and streaming gzip of
// each line (64 KiB chunks into one gzip stream per 10,000 lines, as a batch does). A tuned client (keep-alive agent,
// md5: false: the envelope code checks MD5). Measures its own CPU over MESSAGES messages after WARMUP, prints JSON.
import { Agent } from "node:http";
import { createGzip } from "node:zlib";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { buildEnvelope, serializeEnvelope, validateMessage } from "../dist/archive/envelope.js";

const endpoint = process.env.ENDPOINT;
const messages = Number(process.env.MESSAGES ?? 100_000);
const warmup = Number(process.env.WARMUP ?? 10_000);
const loops = Number(process.env.LOOPS ?? 8);
const queueUrl = "http://127.0.0.1/000000000000/floor";
const sqs = new SQSClient({
  region: "us-east-1",
  endpoint,
  useQueueUrlAsEndpoint: false,
  md5: false,
  credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
  requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: loops * 2 + 4 }) }),
});

let gzip;
let inGzip = 0;
let pending = [];
let pendingBytes = 0;
let compressed = 0;
const append = (line) => {
  if (!gzip || inGzip >= 10_000) {
    gzip?.end();
    gzip = createGzip();
    gzip.on("data", (c) => (compressed += c.length));
    inGzip = 0;
  }
  inGzip++;
  pending.push(line, "\n");
  pendingBytes += line.length + 1;
  if (pendingBytes >= 64 * 1024) {
    gzip.write(Buffer.from(pending.join(""), "utf8"));
    pending = [];
    pendingBytes = 0;
  }
};

async function run(n) {
  // Each loop claims its 10 before it awaits, so concurrent loops cannot lose counts.
  let claimed = 0;
  const loop = async () => {
    while (claimed < n) {
      claimed += 10;
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] }),
      );
      const msgs = out.Messages ?? [];
      for (const m of msgs) append(serializeEnvelope(buildEnvelope(validateMessage(m), queueUrl, new Date())));
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle })) }));
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
}

await run(warmup);
const c0 = process.cpuUsage();
const t0 = performance.now();
await run(messages);
await new Promise((r) => (gzip ? gzip.end(r) : r()));
const wall = (performance.now() - t0) / 1000;
const c = process.cpuUsage(c0);
const cpu = (c.user + c.system) / 1e6;
console.log(JSON.stringify({ messages, loops, wallSeconds: wall, messagesPerSecond: messages / wall, cpuSeconds: cpu, cpuMsPerMsg: (cpu / messages) * 1000, compressedBytes: compressed, rssMB: process.memoryUsage().rss / 2 ** 20 }));
sqs.destroy();
