import type { MessageAttributeValue, SendMessageBatchRequestEntry } from "@aws-sdk/client-sqs";
import type { Envelope } from "../archive/envelope.js";
import { sentTimestampOf } from "../archive/parse.js";

/**
 * Pure mapping from an archived envelope to what SendMessageBatch sends again: the exact body, every message
 * attribute (Binary decoded from base64), FIFO group and deduplication ids, and provenance attributes where the
 * message keeps within SQS's limits.
 */

/** SQS: at most 10 message attributes per message; 1 MiB per message and per SendMessageBatch request. */
export const MAX_ATTRIBUTES = 10;
export const MAX_MESSAGE_BYTES = 1_048_576;
export const MAX_BATCH_BYTES = 1_048_576;
export const MAX_BATCH_ENTRIES = 10;

/** Provenance attributes added to a replayed message (both or neither). */
export const PROVENANCE_MESSAGE_ID = "sqs-archiver-original-message-id";
export const PROVENANCE_SENT_TIMESTAMP = "sqs-archiver-original-sent-timestamp";

export function toMessageAttributes(env: Envelope): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, a] of Object.entries(env.messageAttributes ?? {})) {
    const v: MessageAttributeValue = { DataType: a.DataType };
    if (a.BinaryValue !== undefined) v.BinaryValue = Buffer.from(a.BinaryValue, "base64");
    else if (a.StringValue !== undefined) v.StringValue = a.StringValue;
    if (a.StringListValues?.length) v.StringListValues = [...a.StringListValues];
    if (a.BinaryListValues?.length) v.BinaryListValues = a.BinaryListValues.map((b) => Buffer.from(b, "base64"));
    out[name] = v;
  }
  return out;
}

/** Size as SQS counts it: body plus each attribute's name, type and value, in bytes. */
export function messageSize(body: string, attrs: Record<string, MessageAttributeValue>): number {
  let n = Buffer.byteLength(body, "utf8");
  for (const [name, a] of Object.entries(attrs)) {
    n += Buffer.byteLength(name, "utf8") + Buffer.byteLength(a.DataType ?? "", "utf8");
    if (a.StringValue !== undefined) n += Buffer.byteLength(a.StringValue, "utf8");
    if (a.BinaryValue !== undefined) n += a.BinaryValue.byteLength;
  }
  return n;
}

export function isFifoQueueUrl(url: string): boolean {
  return url.replace(/\/+$/, "").endsWith(".fifo");
}

/** `account/name` of a queue URL, so the same queue matches under any endpoint host. */
export function queueIdentity(url: string): string {
  try {
    const parts = new URL(url).pathname.split("/").filter(Boolean);
    return parts.slice(-2).join("/");
  } catch {
    return url;
  }
}

export interface ReplayEntry {
  /** Entry without Id (assigned per batch). */
  entry: Omit<SendMessageBatchRequestEntry, "Id">;
  size: number;
  provenance: boolean;
  group?: string;
  sequenceNumber?: string;
}

export interface MapOptions {
  fifo: boolean;
  provenance: boolean;
}

export function toReplayEntry(env: Envelope, o: MapOptions): ReplayEntry {
  const attrs = toMessageAttributes(env);
  let size = messageSize(env.body, attrs);
  let provenance = false;
  if (o.provenance && Object.keys(attrs).length <= MAX_ATTRIBUTES - 2 && !(PROVENANCE_MESSAGE_ID in attrs) && !(PROVENANCE_SENT_TIMESTAMP in attrs)) {
    const extra: Record<string, MessageAttributeValue> = {
      [PROVENANCE_MESSAGE_ID]: { DataType: "String", StringValue: env.messageId },
      [PROVENANCE_SENT_TIMESTAMP]: { DataType: "Number", StringValue: String(sentTimestampOf(env)) },
    };
    const extraSize = messageSize("", extra);
    if (size + extraSize <= MAX_MESSAGE_BYTES) {
      Object.assign(attrs, extra);
      size += extraSize;
      provenance = true;
    }
  }
  const entry: Omit<SendMessageBatchRequestEntry, "Id"> = { MessageBody: env.body };
  if (Object.keys(attrs).length > 0) entry.MessageAttributes = attrs;
  const out: ReplayEntry = { entry, size, provenance };
  if (o.fifo) {
    // A message archived from a standard queue has no group: each becomes its own group (no order to keep).
    const group = env.attributes.MessageGroupId || env.messageId;
    entry.MessageGroupId = group;
    // Never the archived MessageDeduplicationId: with content-based deduplication, the same body sent twice (hours
    // apart) has one, and SQS would drop the second replayed within five minutes. The original MessageId is unique
    // and just as stable when replay resends after a crash.
    entry.MessageDeduplicationId = dedupIdFromMessageId(env.messageId);
    out.group = group;
    if (env.attributes.SequenceNumber) out.sequenceNumber = env.attributes.SequenceNumber;
  }
  return out;
}

/** Deduplication ids allow 128 characters of [A-Za-z0-9!-/:-@[-`{-~]: a message id always fits. */
export function dedupIdFromMessageId(messageId: string): string {
  return messageId.slice(0, 128);
}

/** Orders SQS sequence numbers (decimal strings up to 20+ digits, beyond Number precision). */
export function compareSequenceNumbers(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : 1;
}

/**
 * Counts the SendMessageBatch requests a stream of entries (in order) needs: at most `maxEntries` (10) entries and
 * 1 MiB together per request, so a 1 MiB message always goes alone. The sender applies the same two limits.
 */
export class BatchCounter {
  batches = 0;
  private entries = 0;
  private bytes = 0;

  constructor(private readonly maxEntries = MAX_BATCH_ENTRIES) {}

  add(size: number): void {
    if (this.entries === 0 || this.entries >= this.maxEntries || this.bytes + size > MAX_BATCH_BYTES) {
      this.batches++;
      this.entries = 0;
      this.bytes = 0;
    }
    this.entries++;
    this.bytes += size;
  }
}
