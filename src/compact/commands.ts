/**
 * What `sqs-archiver compact` sends to AWS (checked against the code and against iam/policy-compact.json by
 * test/compact/iam.test.ts): it reads the raw prefix and the compacted prefix and writes only with If-None-Match.
 */
export const COMPACT_S3_COMMANDS = ["ListObjectsV2", "GetObject", "PutObject"] as const;
export const COMPACT_IAM_ACTIONS = ["s3:ListBucket", "s3:GetObject", "s3:PutObject"] as const;
