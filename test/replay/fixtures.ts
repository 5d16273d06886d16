import type { Envelope } from "../../src/archive/envelope.js";

/** A fixed "now" for the replay unit tests, and an envelope archived a second before it. */
export const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);

export function env(over: Partial<Envelope> = {}): Envelope {
  return {
    schemaVersion: 1,
    messageId: "11111111-2222-3333-4444-555555555555",
    queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
    body: "hello",
    md5OfBody: "",
    attributes: { SentTimestamp: String(NOW - 1000) },
    messageAttributes: {},
    sentAt: new Date(NOW - 1000).toISOString(),
    archivedAt: new Date(NOW).toISOString(),
    ...over,
  };
}
