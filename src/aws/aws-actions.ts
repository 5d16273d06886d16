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

export const S3_COMMANDS = ["PutObject"] as const;

/** Batch APIs are authorised by their single-message action names. */
export const IAM_ACTIONS = [
  "sqs:GetQueueUrl",
  "sqs:GetQueueAttributes",
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:ChangeMessageVisibility",
  "s3:PutObject",
] as const;

/** Only needed when S3_SSE=aws:kms. */
export const KMS_ACTIONS = ["kms:GenerateDataKey", "kms:Encrypt"] as const;
