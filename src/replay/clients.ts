import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { requestHandler } from "../aws/aws-clients.js";
import { CLI_REQUEST_TIMEOUT_MS, S3_MAX_ATTEMPTS, SDK_RETRY_MODE, SQS_MAX_ATTEMPTS } from "../aws/sdk-settings.js";

export interface ReplayAwsSettings {
  region: string;
  s3Region: string;
  sqsEndpoint: string | undefined;
  s3Endpoint: string | undefined;
  s3ForcePathStyle: boolean;
  /** Requests in flight per client. */
  sockets: number;
}

/**
 * The replay's own clients. As in the service, the SQS endpoint is given explicitly (with useQueueUrlAsEndpoint
 * off) whenever one is configured, because the SDK otherwise sends to the host named in the queue URL.
 */
export function createReplayClients(s: ReplayAwsSettings): { s3: S3Client; sqs: SQSClient; destroy(): void } {
  const credentials = fromNodeProviderChain();
  const sqs = new SQSClient({
    region: s.region,
    credentials,
    ...(s.sqsEndpoint ? { endpoint: s.sqsEndpoint, useQueueUrlAsEndpoint: false } : {}),
    maxAttempts: SQS_MAX_ATTEMPTS,
    retryMode: SDK_RETRY_MODE,
    requestHandler: requestHandler(s.sockets, CLI_REQUEST_TIMEOUT_MS),
  });
  const s3 = new S3Client({
    region: s.s3Region,
    credentials,
    ...(s.s3Endpoint ? { endpoint: s.s3Endpoint } : {}),
    forcePathStyle: s.s3ForcePathStyle,
    // Archive integrity is checked per message against the envelope's md5OfBody instead (see read.ts), which
    // also covers bytes changed before the object was written; skipping CRC validation of each GET saves CPU.
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: S3_MAX_ATTEMPTS,
    retryMode: SDK_RETRY_MODE,
    requestHandler: requestHandler(s.sockets, CLI_REQUEST_TIMEOUT_MS),
  });
  return {
    s3,
    sqs,
    destroy() {
      s3.destroy();
      sqs.destroy();
    },
  };
}
