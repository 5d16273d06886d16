import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import { S3Client } from "@aws-sdk/client-s3";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { Config } from "../config.js";
import { CONNECTION_TIMEOUT_MS, S3_MAX_ATTEMPTS, SDK_RETRY_MODE, SQS_MAX_ATTEMPTS, sqsRequestTimeoutMs } from "./sdk-settings.js";

export interface AwsClients {
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  destroy(): void;
}

/** Keep-alive agents sized to the work, and a request timeout that really ends a hung request. */
export function requestHandler(maxSockets: number, requestTimeoutMs: number): NodeHttpHandler {
  // keepAlive: a fresh TLS handshake per PutObject would cost more CPU than the request itself.
  const opts = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: "lifo" as const };
  return new NodeHttpHandler({
    httpAgent: new HttpAgent(opts),
    httpsAgent: new HttpsAgent(opts),
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: requestTimeoutMs,
    // Without this, @smithy/node-http-handler 4.x only logs a warning when requestTimeout passes and the request
    // hangs on forever (a stuck S3 write or long poll would hold its loop and its messages indefinitely).
    throwOnRequestTimeout: true,
  });
}

/**
 * One client per service for the whole process, shared by every receive loop. Credentials are never configured
 * here: the SDK's node provider chain resolves IRSA (web identity), EKS Pod Identity, env keys or profiles, and one
 * provider instance is shared so both clients reuse the same cached credentials.
 */
export function createAwsClients(config: Config, credentials?: SQSClientConfig["credentials"]): AwsClients {
  const provider = credentials ?? fromNodeProviderChain();
  // Per loop: one long poll plus a delete or visibility call at once; headroom for heartbeats; 16 for the bounded
  // acknowledgement calls (an ndjson batch deletes its messages in parallel chunks of 10).
  const sqsSockets = config.concurrency * 2 + 4 + 16;
  // Per loop: a whole batch of PutObjects in parallel.
  const s3Sockets = config.concurrency * config.maxMessagesPerPoll + 4;

  const sqs = new SQSClient({
    region: config.region,
    credentials: provider,
    ...(config.sqsEndpoint ? { endpoint: config.sqsEndpoint, useQueueUrlAsEndpoint: false } : {}),
    md5: false,
    maxAttempts: SQS_MAX_ATTEMPTS,
    retryMode: SDK_RETRY_MODE,
    // The long poll holds the request open for WaitTimeSeconds; the timeout must outlast it.
    requestHandler: requestHandler(sqsSockets, sqsRequestTimeoutMs(config.waitTimeSeconds)),
  });
  const s3 = new S3Client({
    region: config.s3Region,
    credentials: provider,
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
    forcePathStyle: config.s3ForcePathStyle,
    maxAttempts: S3_MAX_ATTEMPTS,
    retryMode: SDK_RETRY_MODE,
    // Integrity is kept, more cheaply: S3Writer sends a Content-MD5 of every object (S3 rejects a body that does not
    // match it with BadDigest, and stores its own CRC64NVME checksum for objects uploaded without a CRC). The SDK's
    // default CRC32 middleware cost ~2.5% of a 1 KiB PutObject's CPU (bench/RESULTS.md); operations that require a
    // checksum still get one.
    requestChecksumCalculation: "WHEN_REQUIRED",
    requestHandler: requestHandler(s3Sockets, config.s3RequestTimeoutSeconds * 1000),
  });
  return {
    sqs,
    s3,
    destroy() {
      sqs.destroy();
      s3.destroy();
    },
  };
}
