// Baseline 1: the naive loop of the original design. Receive up to 10, put each object one after the other,
// delete each message one after the other. One loop, no overlap.
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { archiveObject, env, s3, sqs } from "./baseline-common.mjs";

let running = true;
process.on("SIGTERM", () => (running = false));

while (running) {
  const out = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: env.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 2, MessageSystemAttributeNames: ["All"] }),
  );
  for (const m of out.Messages ?? []) {
    try {
      await s3.send(new PutObjectCommand(archiveObject(m)));
    } catch (err) {
      if (err?.$metadata?.httpStatusCode !== 412) throw err;
    }
  }
  for (const m of out.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: env.queueUrl, ReceiptHandle: m.ReceiptHandle }));
}
process.exit(0);
