/**
 * What a verification sends to AWS: the archive-reading layer's two S3 commands and nothing else (read-only).
 * iam/policy-verify.json must grant exactly these; test/verify/iam.test.ts compares the policy, this list, the code's
 * imports and the requests a real run makes.
 */
export const VERIFY_S3_COMMANDS = ["ListObjectsV2", "GetObject"] as const;

/** ListObjectsV2 is authorised by s3:ListBucket. */
export const VERIFY_IAM_ACTIONS = ["s3:ListBucket", "s3:GetObject"] as const;

/** Only when the archive objects are SSE-KMS encrypted. */
export const VERIFY_KMS_ACTIONS = ["kms:Decrypt"] as const;
