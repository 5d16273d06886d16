import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { backoffMs } from "../../src/receive/backoff.js";
import { ReceiveGate, type GateOptions } from "../../src/receive/receive-gate.js";
import { HealthState } from "../../src/http/health.js";
import { createLogger } from "../../src/logger.js";
import { createMetrics } from "../../src/metrics.js";

describe("backoffMs", () => {
  it("is zero without failures", () => expect(backoffMs(0, 100, 1000)).toBe(0));
  it("doubles per failure between half and full step", () => {
    expect(backoffMs(1, 100, 10_000, () => 0)).toBe(50);
    expect(backoffMs(1, 100, 10_000, () => 1)).toBe(100);
    expect(backoffMs(4, 100, 10_000, () => 1)).toBe(800);
    expect(backoffMs(4, 100, 10_000, () => 0)).toBe(400);
  });
  it("is capped", () => {
    expect(backoffMs(50, 100, 5_000, () => 1)).toBe(5_000);
    expect(backoffMs(1000, 100, 5_000, () => 0.5)).toBeLessThanOrEqual(5_000);
  });
});

describe("ReceiveGate backoff does not escalate with CONCURRENCY", () => {
  const opts = { pollIntervalMs: 0, receiveBackoffBaseMs: 250, receiveBackoffMaxMs: 20_000, sinkBackoffBaseMs: 500, sinkBackoffMaxMs: 30_000 };

  function makeGate(loops: number, extra: Partial<GateOptions> = {}, send: (cmd: unknown) => Promise<unknown> = async () => ({ Messages: [], $metadata: {} })) {
    const sqs = { config: {}, send } as unknown as SQSClient;
    const health = new HealthState({ loops, stuckAfterMs: 60_000 });
    const log = createLogger("silent", new Writable({ write: (_c, _e, cb) => cb() }));
    return new ReceiveGate(sqs, { ...opts, random: () => 1, ...extra }, createMetrics("t", "24"), health, log);
  }

  it("one all-failed batch on each of 8 loops: every loop's next receive waits 0.5 s, as with one loop", async () => {
    const loops = 8;
    const gate = makeGate(loops);
    for (let i = 0; i < loops; i++) gate.batchOutcome(0, 10);
    const started = Date.now();
    const receive = (loop: number) => gate.clientFor(loop).send(new ReceiveMessageCommand({ QueueUrl: "https://sqs.us-east-1.amazonaws.com/1/q" }));
    const tooSlow = new Promise<string>((r) => setTimeout(() => r("too slow"), 3000).unref());
    const result = await Promise.race([Promise.all(Array.from({ length: loops }, (_, l) => receive(l))).then(() => "done"), tooSlow]);
    expect(result).toBe("done");
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(2000);
    gate.stop();
  });

  it("escalates as documented (0.5 s doubling) whether 1 loop or 8 report the failures of each round", () => {
    for (const loops of [1, 8]) {
      let now = 0;
      const gate = makeGate(loops, { now: () => now });
      const seen: number[] = [];
      for (let round = 0; round < 8; round++) {
        for (let l = 0; l < loops; l++) gate.batchOutcome(0, 10);
        const { ms, reason } = gate.nextDelay(0);
        expect(reason).toBe("s3_errors");
        seen.push(ms);
        // Every loop waits out its pause (random 1: the full step) and fails again.
        now += ms;
      }
      expect(seen, `${loops} loops`).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    }
  });

  it("receive failures on 8 loops at once back off 0.25 s, not 8 doublings", async () => {
    const loops = 8;
    let now = 0;
    const gate = makeGate(loops, { now: () => now }, async () => {
      throw Object.assign(new Error("boom"), { name: "InternalError", $metadata: { httpStatusCode: 500 } });
    });
    await Promise.all(
      Array.from({ length: loops }, (_, l) =>
        gate
          .clientFor(l)
          .send(new ReceiveMessageCommand({ QueueUrl: "https://sqs.us-east-1.amazonaws.com/1/q" }))
          .catch(() => undefined),
      ),
    );
    expect(gate.nextDelay(3)).toEqual({ ms: 250, reason: "sqs_errors" });
    now += 250;
    gate.batchOutcome(1, 0); // a success elsewhere does not clear receive failures; a successful receive does
    expect(gate.nextDelay(3).ms).toBe(250);
    gate.stop();
  });

  it("a success resets the level for every loop", () => {
    const gate = makeGate(8);
    for (let l = 0; l < 8; l++) gate.batchOutcome(0, 10);
    gate.batchOutcome(3, 0);
    for (let l = 0; l < 8; l++) expect(gate.nextDelay(l).ms).toBe(0);
  });
});
