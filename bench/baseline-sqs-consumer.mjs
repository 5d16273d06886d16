// Baseline 2: the plain sqs-consumer recipe a user would write: handleMessage, default options (batchSize 1,
// one poll loop, sqs-consumer deletes each message after the handler resolves). BATCH_SIZE=10 gives the variant a
// user gets by raising batchSize: the batch's handleMessage calls run in parallel, then one DeleteMessageBatch.
import { Consumer } from "sqs-consumer";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { archiveObject, env, s3, sqs } from "./baseline-common.mjs";

const consumer = Consumer.create({
  queueUrl: env.queueUrl,
  sqs,
  messageSystemAttributeNames: ["All"],
  ...(process.env.BATCH_SIZE ? { batchSize: Number(process.env.BATCH_SIZE) } : {}),
  handleMessage: async (message) => {
    try {
      await s3.send(new PutObjectCommand(archiveObject(message)));
    } catch (err) {
      if (err?.$metadata?.httpStatusCode !== 412) throw err;
    }
    return message;
  },
});
consumer.on("error", (err) => console.error(err.message));
consumer.on("processing_error", (err) => console.error(err.message));
process.on("SIGTERM", () => process.exit(0));
consumer.start();
