import { hash } from "node:crypto";
import type { Message } from "@aws-sdk/client-sqs";
import { ChecksumMismatchError, MalformedMessageError } from "../errors.js";
import { isValidSentTimestamp } from "./format.js";

export const SCHEMA_VERSION = 1;

export interface EnvelopeMessageAttribute {
  DataType: string;
  StringValue?: string;
  /** base64 of the exact bytes */
  BinaryValue?: string;
  StringListValues?: string[];
  BinaryListValues?: string[];
}

/** The archive object's JSON. Field order is fixed so archives diff cleanly. */
export interface Envelope {
  schemaVersion: typeof SCHEMA_VERSION;
  messageId: string;
  queueUrl: string;
  body: string;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, EnvelopeMessageAttribute>;
  sentAt: string;
  archivedAt: string;
}

export interface ValidMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  md5OfBody: string;
  sentTimestampMs: number;
  raw: Message;
}

/** One-shot crypto.hash: about a third less CPU per body than createHash().update().digest() (every reader and writer hashes each body). */
export function md5Hex(text: string): string {
  return hash("md5", text, "hex");
}

/**
 * Checks the fields every archive needs and that the body hashes to MD5OfBody. The SDK's own MD5 check is disabled
 * on the client because it rejects a whole ReceiveMessage for one bad message; here one bad message fails alone.
 */
export function validateMessage(message: Message): ValidMessage {
  const { MessageId, ReceiptHandle, Body, MD5OfBody } = message;
  if (!MessageId) throw new MalformedMessageError("missing MessageId");
  if (!ReceiptHandle) throw new MalformedMessageError(`message ${MessageId} has no ReceiptHandle`);
  if (typeof Body !== "string") throw new MalformedMessageError(`message ${MessageId} has no Body`);
  const rawSent = message.Attributes?.SentTimestamp;
  // Number("") is 0 and Number("1e3") is 1000: only plain digits are a timestamp SQS could have written.
  const sent = typeof rawSent === "string" && /^\d{1,16}$/.test(rawSent) ? Number(rawSent) : Number.NaN;
  if (!isValidSentTimestamp(sent)) {
    throw new MalformedMessageError(
      `message ${MessageId} has SentTimestamp ${JSON.stringify(String(rawSent ?? "(none)").slice(0, 40))}, not a time SQS could have sent it`,
      "SENT_TIMESTAMP_INVALID",
    );
  }
  const actual = md5Hex(Body);
  if (MD5OfBody !== undefined && MD5OfBody.toLowerCase() !== actual) {
    throw new ChecksumMismatchError(MessageId, MD5OfBody, actual);
  }
  return { messageId: MessageId, receiptHandle: ReceiptHandle, body: Body, md5OfBody: MD5OfBody ?? actual, sentTimestampMs: sent, raw: message };
}

function toBase64(value: Uint8Array | string): string {
  return typeof value === "string" ? Buffer.from(value, "utf8").toString("base64") : Buffer.from(value).toString("base64");
}

function messageAttributes(message: Message): Record<string, EnvelopeMessageAttribute> {
  const out: Record<string, EnvelopeMessageAttribute> = {};
  const names = Object.keys(message.MessageAttributes ?? {}).sort();
  for (const name of names) {
    const a = message.MessageAttributes?.[name];
    if (!a) continue;
    const attr: EnvelopeMessageAttribute = { DataType: a.DataType ?? "String" };
    if (a.StringValue !== undefined) attr.StringValue = a.StringValue;
    if (a.BinaryValue !== undefined) attr.BinaryValue = toBase64(a.BinaryValue);
    if (a.StringListValues?.length) attr.StringListValues = [...a.StringListValues];
    if (a.BinaryListValues?.length) attr.BinaryListValues = a.BinaryListValues.map(toBase64);
    out[name] = attr;
  }
  return out;
}

function systemAttributes(message: Message): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(message.Attributes ?? {}).sort()) {
    const v = message.Attributes?.[name as keyof Message["Attributes"]];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

export function buildEnvelope(valid: ValidMessage, queueUrl: string, archivedAt: Date): Envelope {
  const env: Envelope = {
    schemaVersion: SCHEMA_VERSION,
    messageId: valid.messageId,
    queueUrl,
    body: valid.body,
    md5OfBody: valid.md5OfBody,
    attributes: systemAttributes(valid.raw),
    messageAttributes: messageAttributes(valid.raw),
    sentAt: new Date(valid.sentTimestampMs).toISOString(),
    archivedAt: archivedAt.toISOString(),
  };
  if (valid.raw.MD5OfMessageAttributes) env.md5OfMessageAttributes = valid.raw.MD5OfMessageAttributes;
  return env;
}

/** Serialised once per message; JSON.stringify escapes lone surrogates, so the output is always valid UTF-8. */
export function serializeEnvelope(envelope: Envelope): string {
  return JSON.stringify(envelope);
}
