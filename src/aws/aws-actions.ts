/**
 * The IAM actions this service needs, one per SDK command it sends (its own calls and sqs-consumer's).
 * iam/policy.json, iam/policy-sse-kms.json and the CloudFormation role (infra/cloudformation/sqs-archiver.yaml) must
 * grant exactly these; test/deploy/consistency.test.ts compares them with the commands the service code imports
 * (src/cli/ and src/replay/ are tools with their own policies and are not scanned).
 */
export const SQS_COMMANDS = [
  "GetQueueUrl",
  "GetQueueAttributes",
  "ReceiveMessage",
  "DeleteMessageBatch",
  "ChangeMessageVisibilityBatch",
] as const;

/**
 * HeadBucket: the start-up preflight that checks the bucket exists and where it lives. ListObjectsV2 (key as prefix):
 * whether an object exists after a PutObject whose outcome is unknown, when HeadObject is denied.
 */
export const S3_COMMANDS = ["PutObject", "HeadBucket", "ListObjectsV2"] as const;

/**
 * Sent, but deliberately not granted: HeadObject is authorised by s3:GetObject, which would let the pod read every
 * archived message. The writer asks it first (one call where a role grants it) and on 403 asks ListObjectsV2 instead.
 */
export const UNGRANTED_S3_COMMANDS = ["HeadObject"] as const;

/**
 * Batch APIs are authorised by their single-message action names; HeadBucket and ListObjectsV2 by s3:ListBucket on the
 * bucket ARN (without it S3 still answers 403 with x-amz-bucket-region, but cannot tell "missing" from "denied").
 */
export const IAM_ACTIONS = [
  "sqs:GetQueueUrl",
  "sqs:GetQueueAttributes",
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:ChangeMessageVisibility",
  "s3:PutObject",
  "s3:ListBucket",
] as const;

/**
 * Only needed when S3_SSE=aws:kms (or the bucket's default key is a customer managed key). A single-request
 * PutObject needs only a data key (kms:GenerateDataKey); kms:Encrypt is never called by S3. kms:Decrypt would be
 * needed for multipart uploads (S3 decrypts the data key to complete them) and for reading archives back; the service
 * does neither (a test fails if it starts importing multipart commands while this list lacks kms:Decrypt).
 */
export const KMS_ACTIONS = ["kms:GenerateDataKey"] as const;
