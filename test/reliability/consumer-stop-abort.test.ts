import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Consumer } from "sqs-consumer";
import { ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { HealthState } from "../../src/http/health.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";
import { ReceiveGate } from "../../src/receive/receive-gate.js";

/**
 * Issue 8, suspected: `c.stop({ abort: true })` at the shutdown deadline does nothing because the consumers are
 * already stopped. Confirmed against the installed sqs-consumer (node_modules/sqs-consumer/dist/esm/consumer.js):
 * `stop()` begins with `if (this.stopped) { logger.debug("already_stopped"); return; }`, and the service calls
 * `c.stop()` when shutdown begins, so the later `stop({ abort: true })` returns before reaching
 * `this.abortController.abort()`. It would not be needed anyway: the only SDK calls sqs-consumer makes for this
 * service are receives (the handler deletes and changes visibility itself, and sqs-consumer's heartbeat is off), and
 * the gate's abortReceives() already aborts open long polls. This test pins the library behaviour the service's
 * shutdown relies on, so an upgrade that changes it is noticed.
 */
function hangingClient() {
  const signals: AbortSignal[] = [];
  const client = {
    config: {},
    send: (command: unknown, options?: { abortSignal?: AbortSignal }) => {
      if (!(command instanceof ReceiveMessageCommand)) return Promise.resolve({});
      const signal = options?.abortSignal as AbortSignal;
      signals.push(signal);
      return new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" }))));
    },
  };
  return { client: client as unknown as SQSClient, signals };
}

function consumer(sqs: SQSClient): Consumer {
  const c = Consumer.create({ queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/q", sqs, handleMessageBatch: async () => [], pollingWaitTimeMs: 0 });
  c.on("error", () => undefined);
  return c;
}

describe("sqs-consumer stop({ abort: true }) after stop()", () => {
  it("does not abort the open receive: the consumer is already stopped", async () => {
    const { client, signals } = hangingClient();
    const c = consumer(client);
    c.start();
    await new Promise((r) => setTimeout(r, 20));
    expect(signals).toHaveLength(1);
    c.stop(); // shutdown begins
    c.stop({ abort: true }); // the deadline: a no-op
    await new Promise((r) => setTimeout(r, 20));
    expect(signals[0]?.aborted).toBe(false);
    expect(c.status.isPolling).toBe(true);
  });

  it("stop({ abort: true }) on a running consumer does abort it (what the call was meant to do)", async () => {
    const { client, signals } = hangingClient();
    const c = consumer(client);
    c.start();
    await new Promise((r) => setTimeout(r, 20));
    c.stop({ abort: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(signals[0]?.aborted).toBe(true);
  });
});

describe("what does abort an open long poll at the deadline", () => {
  it("the gate's abortReceives(), through the client each consumer was given", async () => {
    const { client, signals } = hangingClient();
    const gate = new ReceiveGate(
      client,
      { pollIntervalMs: 0, receiveBackoffBaseMs: 250, receiveBackoffMaxMs: 20_000, sinkBackoffBaseMs: 500, sinkBackoffMaxMs: 30_000 },
      createMetrics("t", "24"),
      new HealthState({ loops: 1, stuckAfterMs: 60_000 }),
      createLogger("silent", new Writable({ write: (_c, _e, cb) => cb() })),
    );
    const c = consumer(gate.clientFor(0));
    c.start();
    await new Promise((r) => setTimeout(r, 20));
    c.stop();
    gate.stop();
    expect(signals[0]?.aborted).toBe(false);
    gate.abortReceives();
    expect(signals[0]?.aborted).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(c.status.isPolling).toBe(false);
  });
});
