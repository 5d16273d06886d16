import { describe, expect, it } from "vitest";
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, type Message, type SQSClient } from "@aws-sdk/client-sqs";
import { md5Hex } from "../../src/archive/envelope.js";
import { loadConfig } from "../../src/config.js";
import type { HealthState } from "../../src/http/health.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import type { Backpressure } from "../../src/receive/backpressure.js";
import { BatchHandler } from "../../src/receive/batch-handler.js";
import type { ReceiveGate } from "../../src/receive/receive-gate.js";
import type { ArchiveSink, SinkItem, SinkOutcome } from "../../src/sinks/sink.js";
import { LogCapture } from "../support/harness.js";

/**
 * The acknowledgement path on its own, with a stubbed SQS client (in the style of bbc/sqs-consumer's tests): `send`
 * records every command and answers from a script. The sink is scripted by message id.
 */
type Answer = (input: { Entries?: Array<{ Id?: string }> }) => unknown;

class FakeSqs {
  readonly calls: Array<{ name: string; input: Record<string, unknown> & { Entries?: Array<Record<string, unknown>> } }> = [];
  readonly script: Record<string, Answer[]> = {};
  readonly send = async (command: { constructor: { name: string }; input: never }): Promise<unknown> => {
    const name = command.constructor.name;
    this.calls.push({ name, input: command.input });
    const next = this.script[name]?.shift();
    if (next) return next(command.input);
    // Default: every entry succeeded.
    const entries = (command.input as { Entries?: Array<{ Id?: string }> }).Entries ?? [];
    return { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [] };
  };
  of(kind: typeof DeleteMessageBatchCommand | typeof ChangeMessageVisibilityBatchCommand) {
    return this.calls.filter((c) => c.name === kind.name);
  }
  deletedHandles(): string[] {
    return this.of(DeleteMessageBatchCommand).flatMap((c) => (c.input.Entries ?? []).map((e) => String(e.ReceiptHandle)));
  }
}

class ScriptedSink implements ArchiveSink {
  readonly format = "message" as const;
  readonly pending = 0;
  readonly submitted: string[] = [];
  constructor(private readonly outcomes: Record<string, SinkOutcome>) {}
  submit(item: SinkItem): Promise<SinkOutcome> {
    this.submitted.push(item.valid.messageId);
    return Promise.resolve(this.outcomes[item.valid.messageId] ?? { status: "written", key: `k/${item.valid.messageId}` });
  }
  flushAll(): void {}
  closeOpen(): void {}
}

function message(i: number, body = `body ${i}`): Message {
  return {
    MessageId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    ReceiptHandle: `rh-${i}`,
    Body: body,
    MD5OfBody: md5Hex(body),
    Attributes: { SentTimestamp: String(Date.UTC(2025, 0, 1, 10)), ApproximateReceiveCount: "1" },
  };
}
const id = (i: number) => message(i).MessageId as string;

function setup(outcomes: Record<string, SinkOutcome> = {}) {
  const config = loadConfig({ SQS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/q", S3_BUCKET_NAME: "unit-bucket", AWS_REGION: "us-east-1" });
  const sqs = new FakeSqs();
  const sink = new ScriptedSink(outcomes);
  const metrics = createMetrics("test", process.versions.node);
  const logs = new LogCapture();
  const gateCalls: Array<[number, number]> = [];
  const gate = { batchOutcome: (ok: number, failed: number) => gateCalls.push([ok, failed]) } as unknown as ReceiveGate;
  const health = { setInFlight: () => undefined, addProcessed: () => undefined } as unknown as HealthState;
  const backpressure = { sizeOf: () => 0, releaseBytes: () => undefined, releaseMessages: () => undefined } as unknown as Backpressure;
  const handler = new BatchHandler({ config, sqs: sqs as unknown as SQSClient, sink, metrics, health, gate, backpressure, log: createLogger("debug", logs) });
  return { handler, sqs, sink, gateCalls, logs, metrics };
}

const failed = (reason: string): SinkOutcome => ({ status: "failed", reason, sinkFatal: false, aborted: false });

describe("BatchHandler acknowledgements", () => {
  it("deletes only durable outcomes (written, already_stored), never failed or rejected ones", async () => {
    const { handler, sqs, gateCalls } = setup({
      [id(2)]: { status: "already_stored", key: "k/2" },
      [id(3)]: failed("throttled"),
      [id(4)]: { status: "rejected", code: "MESSAGE_INVALID", detail: "bad" },
    });
    await handler.handle([message(1), message(2), message(3), message(4)]);
    await handler.idle();
    expect(sqs.deletedHandles().sort()).toEqual(["rh-1", "rh-2"]);
    // Failed and rejected messages are left in flight: no visibility change either.
    expect(sqs.of(ChangeMessageVisibilityBatchCommand)).toHaveLength(0);
    expect(gateCalls).toEqual([[2, 1]]);
    expect(handler.messagesInFlight).toBe(0);
  });

  it("leaves a message that fails verification (bad MD5) for the DLQ without handing it to the sink", async () => {
    const { handler, sqs, sink } = setup();
    const bad = { ...message(5), MD5OfBody: "0".repeat(32) };
    await handler.handle([message(1), bad]);
    await handler.idle();
    expect(sink.submitted).toEqual([id(1)]);
    expect(sqs.deletedHandles()).toEqual(["rh-1"]);
    expect(sqs.of(ChangeMessageVisibilityBatchCommand)).toHaveLength(0);
  });

  it("retries DeleteMessageBatch entries that failed on SQS's side once, and not the sender's fault ones", async () => {
    const { handler, sqs, metrics } = setup();
    sqs.script[DeleteMessageBatchCommand.name] = [
      (input) => {
        const [a, b, c] = input.Entries ?? [];
        return {
          Successful: [{ Id: a?.Id }],
          Failed: [
            { Id: b?.Id, Code: "InternalError", SenderFault: false },
            { Id: c?.Id, Code: "ReceiptHandleIsInvalid", SenderFault: true },
          ],
        };
      },
    ];
    await handler.handle([message(1), message(2), message(3)]);
    await handler.idle();
    const deletes = sqs.of(DeleteMessageBatchCommand);
    expect(deletes).toHaveLength(2);
    expect(deletes[1]?.input.Entries?.map((e) => e.ReceiptHandle)).toEqual(["rh-2"]);
    const notDeleted = await metrics.registry.getSingleMetricAsString("sqs_archiver_archived_not_deleted_total");
    expect(notDeleted).toMatch(/ 1$/m);
  });

  it("retries a failing entry only once (SQS_DELETE_TRIES), then counts it archived-not-deleted", async () => {
    const { handler, sqs } = setup();
    const failAll: Answer = (input) => ({ Successful: [], Failed: (input.Entries ?? []).map((e) => ({ Id: e.Id, Code: "InternalError", SenderFault: false })) });
    sqs.script[DeleteMessageBatchCommand.name] = [failAll, failAll, failAll];
    await handler.handle([message(1)]);
    await handler.idle();
    expect(sqs.of(DeleteMessageBatchCommand)).toHaveLength(2);
  });

  it("releases (visibility 0) a batch received after shutdown began, without archiving it", async () => {
    const { handler, sqs, sink } = setup();
    handler.beginShutdown();
    await handler.handle([message(1), message(2)]);
    expect(sink.submitted).toEqual([]);
    expect(sqs.deletedHandles()).toEqual([]);
    const releases = sqs.of(ChangeMessageVisibilityBatchCommand);
    expect(releases).toHaveLength(1);
    expect(releases[0]?.input.Entries).toEqual([
      { Id: "m0", ReceiptHandle: "rh-1", VisibilityTimeout: 0 },
      { Id: "m1", ReceiptHandle: "rh-2", VisibilityTimeout: 0 },
    ]);
    expect(handler.releaseSummary).toEqual({ released: { unstarted: 2, notDurable: 0 }, releaseFailed: 0 });
  });

  it("releases a message whose write the shutdown deadline cut (aborted)", async () => {
    const { handler, sqs } = setup({
      [id(1)]: { status: "failed", reason: "aborted", sinkFatal: false, aborted: true },
      [id(2)]: { status: "written", key: "k/2" },
    });
    await handler.handle([message(1), message(2)]);
    await handler.idle();
    const releases = sqs.of(ChangeMessageVisibilityBatchCommand);
    expect(releases.flatMap((c) => c.input.Entries ?? [])).toEqual([{ Id: "m0", ReceiptHandle: "rh-1", VisibilityTimeout: 0 }]);
    expect(sqs.deletedHandles()).toEqual(["rh-2"]);
    expect(handler.releaseSummary.released.notDurable).toBe(1);
  });

  it("counts a release SQS refuses as releaseFailed", async () => {
    const { handler, sqs } = setup();
    sqs.script[ChangeMessageVisibilityBatchCommand.name] = [() => Promise.reject(Object.assign(new Error("down"), { name: "InternalError" }))];
    handler.beginShutdown();
    await handler.handle([message(1)]);
    expect(handler.releaseSummary).toEqual({ released: { unstarted: 0, notDurable: 0 }, releaseFailed: 1 });
  });
});
