import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Config } from "../config.js";
import { classifyAwsError, describeError } from "../errors.js";
import type { Logger } from "../logger.js";

export interface QueueInfo {
  visibilityTimeoutSeconds?: number;
  redrivePolicy?: { deadLetterTargetArn?: string; maxReceiveCount?: number };
  fifo: boolean;
}

/**
 * Confirms the queue exists and logs what an operator needs to know about it (redrive policy, visibility). Never
 * fatal: a missing queue or denied call is logged with a stable reason, readiness stays false and the receive loops
 * keep retrying with backoff, so a queue created later is picked up without a crash loop.
 */
export async function preflight(sqs: SQSClient, config: Config, log: Logger, signal?: AbortSignal): Promise<QueueInfo | undefined> {
  const parts = new URL(config.queueUrl).pathname.split("/").filter(Boolean);
  const [account, name] = [parts[0] as string, parts[1] as string];
  const opts = signal ? { abortSignal: signal } : {};
  try {
    await sqs.send(new GetQueueUrlCommand({ QueueName: name, ...(/^\d{12}$/.test(account) ? { QueueOwnerAWSAccountId: account } : {}) }), opts);
    const out = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: config.queueUrl, AttributeNames: ["VisibilityTimeout", "RedrivePolicy", "FifoQueue"] }),
      opts,
    );
    const a = out.Attributes ?? {};
    const info: QueueInfo = { fifo: a.FifoQueue === "true" || name.endsWith(".fifo") };
    if (a.VisibilityTimeout) info.visibilityTimeoutSeconds = Number(a.VisibilityTimeout);
    if (a.RedrivePolicy) {
      try {
        info.redrivePolicy = JSON.parse(a.RedrivePolicy) as QueueInfo["redrivePolicy"];
      } catch {
        /* malformed policy: reported as absent below */
      }
    }
    log.info({ event: "queue_checked", queueUrl: config.queueUrl, ...info }, "queue reachable");
    if (!info.redrivePolicy) {
      log.warn(
        { event: "no_redrive_policy", queueUrl: config.queueUrl },
        "queue has no redrive policy: a message that can never be archived will be retried until retention expires",
      );
    }
    return info;
  } catch (err) {
    log.error({ event: "queue_check_failed", queueUrl: config.queueUrl, reason: classifyAwsError(err), err: describeError(err) }, "queue check failed; receive loops will retry");
    return undefined;
  }
}
