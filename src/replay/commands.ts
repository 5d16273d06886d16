/**
 * What a replay sends to AWS, one entry per SDK command in src/replay (iam/policy-replay.json must grant exactly
 * these; test/replay/iam.test.ts compares the policy, this list and the code's imports).
 */
export const REPLAY_S3_COMMANDS = ["ListObjectsV2", "GetObject"] as const;
export const REPLAY_SQS_COMMANDS = ["SendMessageBatch"] as const;

/** ListObjectsV2 is authorised by s3:ListBucket; SendMessageBatch by sqs:SendMessage. */
export const REPLAY_IAM_ACTIONS = ["s3:ListBucket", "s3:GetObject", "sqs:SendMessage"] as const;

/** Only when the archive objects are SSE-KMS encrypted (kms:Decrypt) or the target queue uses SSE-KMS (kms:GenerateDataKey, kms:Decrypt). */
export const REPLAY_KMS_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"] as const;
