/**
 * The IAM actions this service needs, one per SDK command it sends (its own calls and sqs-consumer's).
 * iam/policy.json must grant exactly these; a test compares both with the commands the code imports.
 */
export const SQS_COMMANDS = [
  "GetQueueUrl",
  "GetQueueAttributes",
  "ReceiveMessage",
  "DeleteMessageBatch",
  "ChangeMessageVisibilityBatch",
] as const;

/** HeadBucket: the start-up check of the bucket's region (src/aws/preflight.ts). */
export const S3_COMMANDS = ["PutObject", "HeadBucket"] as const;

/** IAM actions whose names differ from the command (batch APIs use their single-message names, see below). */
export const COMMAND_ACTIONS: Readonly<Record<string, string>> = {
  "s3:HeadBucket": "s3:ListBucket",
};

/** Batch APIs are authorised by their single-message action names; HeadBucket by s3:ListBucket on the bucket. */
export const IAM_ACTIONS = [
  "sqs:GetQueueUrl",
  "sqs:GetQueueAttributes",
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:ChangeMessageVisibility",
  "s3:PutObject",
  "s3:ListBucket",
] as const;

/** Only needed when S3_SSE=aws:kms. */
export const KMS_ACTIONS = ["kms:GenerateDataKey", "kms:Encrypt"] as const;
