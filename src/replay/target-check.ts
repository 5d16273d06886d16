import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { classifyAwsError, describeError } from "../errors.js";

export type TargetCheck = { ok: true } | { ok: false; reason: string; detail: string };

/**
 * Whether the target queue exists and takes our sends, asked once before the archive is read (dry runs included):
 * an empty SendMessageBatch sends nothing and needs only sqs:SendMessage, the one SQS permission replay has. SQS
 * checks the queue and the caller's permission before the request's entries, so `EmptyBatchRequest` means "exists and
 * may be written"; a missing queue, a denial or bad credentials come back as themselves.
 */
export async function checkTarget(sqs: SQSClient, queueUrl: string, signal: AbortSignal): Promise<TargetCheck> {
  try {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [] }), { abortSignal: signal });
    return { ok: true };
  } catch (err) {
    if (/EmptyBatchRequest$/.test((err as { name?: string })?.name ?? "")) return { ok: true };
    const d = describeError(err);
    return { ok: false, reason: classifyAwsError(err), detail: `${d.code}: ${d.message}` };
  }
}
