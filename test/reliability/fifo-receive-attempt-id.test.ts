import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { HealthState } from "../../src/http/health.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import { ReceiveGate } from "../../src/receive/receive-gate.js";
import { metricValue, startService, waitFor, useBackend } from "../support/harness.js";
import { expectExactlyOnce, sendAll, waitForDrained } from "../support/reliability.js";

/**
 * Issue 8, suspected: neither sqs-consumer nor the SDK sets ReceiveRequestAttemptId on FIFO queues, so when a
 * ReceiveMessage answer is lost (the request took effect, the connection reset) the SDK's retry is a new receive:
 * the messages of the lost answer stay invisible, and their groups blocked, for the visibility timeout. With the same
 * attempt id, SQS returns the same messages to the retry. The gate now sets one id per logical receive, reused by the
 * SDK's retries of that receive (and by the loop's next receive if every attempt failed without an answer); standard
 * queues get none.
 *
 * The emulator ignores ReceiveRequestAttemptId (the retry cannot get the messages back here; they return after the
 * visibility timeout), so this asserts on the requests the service sends, as recorded by the proxy.
 */
const BUCKET = "fifo-attempt-id";

type ReceiveBody = { QueueUrl?: string; ReceiveRequestAttemptId?: string };

describe("FIFO ReceiveRequestAttemptId", () => {
  const backend = useBackend(BUCKET);

  it("a retried receive after a lost answer repeats the attempt id; each new receive gets a new one", async () => {
    const queueUrl = await backend.createQueue("attempt-id.fifo", { FifoQueue: "true", ContentBasedDeduplication: "true" });
    const sent = await sendAll(backend, queueUrl, ["g1 first", "g1 second", "g2 first"], (i) => ({ MessageGroupId: i < 2 ? "g1" : "g2" }));
    const before = backend.proxy.sqsRequests.length;
    // The first receive reaches SQS (messages taken) and its answer is lost.
    backend.proxy.setFaults([{ match: (op) => op.name === "ReceiveMessage", action: { kind: "reset-after-forward" }, times: 1 }]);
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: "fifo/", CONCURRENCY: "1", VISIBILITY_TIMEOUT_SECONDS: "2" });
    try {
      await waitForDrained(backend, queueUrl, 20_000);
      await expectExactlyOnce(backend, BUCKET, "fifo/", sent);
      const receives = backend.proxy.sqsRequests
        .slice(before)
        .filter((r) => r.op === "ReceiveMessage")
        .map((r) => r.body as ReceiveBody);
      expect(receives.length).toBeGreaterThanOrEqual(3);
      const ids = receives.map((r) => r.ReceiveRequestAttemptId);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
      // The lost one and the SDK's retry of it: same id.
      expect(ids[1]).toBe(ids[0]);
      // Every later logical receive: a fresh id.
      const later = ids.slice(2);
      expect(new Set(later).size).toBe(later.length);
      expect(later).not.toContain(ids[0]);
      expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(sent.size);
    } finally {
      backend.proxy.clearFaults();
      await svc.stop();
    }
  }, 30_000);

  it("standard queues: no attempt id", async () => {
    const queueUrl = await backend.createQueue("attempt-id-standard");
    const before = backend.proxy.sqsRequests.length;
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_PREFIX: "std/", CONCURRENCY: "1" });
    try {
      const sent = await sendAll(backend, queueUrl, ["standard"]);
      await waitForDrained(backend, queueUrl, 10_000);
      await expectExactlyOnce(backend, BUCKET, "std/", sent);
      const receives = await waitFor(() => {
        const r = backend.proxy.sqsRequests.slice(before).filter((x) => x.op === "ReceiveMessage");
        return r.length > 0 ? r : undefined;
      });
      for (const r of receives) expect((r.body as ReceiveBody).ReceiveRequestAttemptId).toBeUndefined();
    } finally {
      await svc.stop();
    }
  }, 20_000);
});

describe("FIFO attempt id across logical receives (gate with a scripted client)", () => {
  function gateWith(outcomes: Array<"lost" | "denied" | "ok">) {
    const ids: Array<string | undefined> = [];
    const sqs = {
      config: {},
      send: async (command: ReceiveMessageCommand) => {
        ids.push(command.input.ReceiveRequestAttemptId);
        const o = outcomes.shift() ?? "ok";
        if (o === "lost") throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        if (o === "denied") throw Object.assign(new Error("denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
        return { Messages: [], $metadata: {} };
      },
    } as unknown as SQSClient;
    const gate = new ReceiveGate(
      sqs,
      { pollIntervalMs: 0, receiveBackoffBaseMs: 1, receiveBackoffMaxMs: 1, sinkBackoffBaseMs: 1, sinkBackoffMaxMs: 1 },
      createMetrics("t", "24"),
      new HealthState({ loops: 2, stuckAfterMs: 60_000 }),
      createLogger("silent", new Writable({ write: (_c, _e, cb) => cb() })),
    );
    const receive = (loop: number) =>
      gate
        .clientFor(loop)
        .send(new ReceiveMessageCommand({ QueueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo" }))
        .catch(() => undefined);
    return { ids, receive };
  }

  it("after a receive that got no answer at all, the loop's next receive repeats its id; after an answer, a new id", async () => {
    const { ids, receive } = gateWith(["lost", "ok", "ok"]);
    await receive(0);
    await receive(0);
    await receive(0);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[1]);
  });

  it("a definite error (not a lost answer) does not carry the id over; loops never share ids", async () => {
    const { ids, receive } = gateWith(["denied", "ok", "lost", "ok"]);
    await receive(0);
    await receive(0);
    await receive(1);
    await receive(0);
    expect(ids[1]).not.toBe(ids[0]);
    expect(ids[3]).not.toBe(ids[2]);
    expect(new Set(ids).size).toBe(4);
  });
});
