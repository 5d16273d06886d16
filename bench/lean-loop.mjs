// Reference: a lean parallel loop with no service machinery (no sqs-consumer, gate, metrics, validation, logging):
// LOOPS loops of receive 10 -> all PutObjects in parallel -> one DeleteMessageBatch. Same SDK clients and agent
// sizing as the service, same PutObject shape (If-None-Match, metadata, JSON envelope). Its CPU per message is the
// floor the service's own per-message work is measured against.
import { Agent } from "node:http";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";

const loops = Number(process.env.CONCURRENCY ?? 8);
const region = process.env.AWS_REGION ?? "us-east-1";
const endpoint = process.env.AWS_ENDPOINT_URL;
const queueUrl = process.env.SQS_QUEUE_URL;
const bucket = process.env.S3_BUCKET_NAME;
const handler = (n) => new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: n }) });
const sqs = new SQSClient({ region, endpoint, useQueueUrlAsEndpoint: false, md5: false, requestHandler: handler(loops * 2 + 4) });
const s3 = new S3Client({ region, endpoint, forcePathStyle: true, requestHandler: handler(loops * 10 + 4) });

let running = true;
process.on("SIGTERM", () => (running = false));
const pad = (n) => String(n).padStart(2, "0");

async function loop() {
  while (running) {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] }),
    );
    const msgs = out.Messages ?? [];
    if (!msgs.length) continue;
    await Promise.all(
      msgs.map(async (m) => {
        const sent = Number(m.Attributes.SentTimestamp);
        const d = new Date(sent);
        const key = `sqs-messages/${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}/${m.MessageId}.json`;
        const body = Buffer.from(
          JSON.stringify({ schemaVersion: 1, messageId: m.MessageId, queueUrl, body: m.Body, md5OfBody: m.MD5OfBody, attributes: m.Attributes, messageAttributes: {}, sentAt: d.toISOString(), archivedAt: new Date().toISOString() }),
        );
        try {
          await s3.send(
            new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ContentType: "application/json", IfNoneMatch: "*", Metadata: { "message-id": m.MessageId, "sent-timestamp": String(sent), "schema-version": "1" } }),
          );
        } catch (err) {
          if (err?.$metadata?.httpStatusCode !== 412) throw err;
        }
      }),
    );
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle })) }));
  }
}
await Promise.all(Array.from({ length: loops }, loop));
process.exit(0);
