// Shared by the two baselines: clients configured the way a user would (SDK defaults), and the archive object.
import { SQSClient } from "@aws-sdk/client-sqs";
import { S3Client } from "@aws-sdk/client-s3";

export const env = {
  queueUrl: process.env.SQS_QUEUE_URL,
  bucket: process.env.S3_BUCKET_NAME,
  endpoint: process.env.AWS_ENDPOINT_URL,
  region: process.env.AWS_REGION ?? "us-east-1",
};

export const sqs = new SQSClient({ region: env.region, endpoint: env.endpoint, useQueueUrlAsEndpoint: false });
export const s3 = new S3Client({ region: env.region, endpoint: env.endpoint, forcePathStyle: true });

const pad = (n) => String(n).padStart(2, "0");
export function archiveObject(m) {
  const sent = Number(m.Attributes?.SentTimestamp);
  const d = new Date(sent);
  const key = `sqs-messages/${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}/${m.MessageId}.json`;
  const body = JSON.stringify({
    messageId: m.MessageId,
    body: m.Body,
    attributes: m.Attributes ?? {},
    sentAt: d.toISOString(),
    archivedAt: new Date().toISOString(),
  });
  return { Bucket: env.bucket, Key: key, Body: body, ContentType: "application/json", IfNoneMatch: "*" };
}
