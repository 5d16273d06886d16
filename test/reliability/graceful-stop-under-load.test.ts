import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue, startBackend, waitFor, type Backend } from "../support/harness.js";
import { expectExactlyOnce, sendAll, waitForDrained } from "../support/reliability.js";
import { assertBuilt, ensureDead, serviceEnv, spawnService, type ChildService } from "../support/process.js";

/**
 * SIGTERM to the real process while it works through a backlog with slow S3 writes in flight: it exits 0 within
 * SHUTDOWN_TIMEOUT_SECONDS, and every message it received was either archived and deleted or released (visibility
 * 0). The visibility timeout is far longer than the test, so a message left invisible would show up as in flight;
 * and a successor that finds an archive whose message was not deleted would count a duplicate delivery.
 */
const BUCKET = "graceful-stop";
const PREFIX = "stop/";
const N = 800;
const SHUTDOWN_TIMEOUT_SECONDS = 10;

describe("graceful stop under load", () => {
  let backend: Backend;
  let first: ChildService | undefined;
  let second: ChildService | undefined;

  beforeAll(async () => {
    assertBuilt();
    // Slow writes: SIGTERM always lands with batches in flight.
    backend = await startBackend({ latencyMs: { PutObject: 300 } });
    backend.createBucket(BUCKET);
  });
  afterAll(async () => {
    await ensureDead(first);
    await ensureDead(second);
    await backend?.close();
  });

  it("SIGTERM mid-backlog exits 0 in time; nothing received is lost or left invisible", async () => {
    const queueUrl = await backend.createQueue("stop-q");
    const sent = await sendAll(backend, queueUrl, Array.from({ length: N }, (_, i) => JSON.stringify({ i, text: `graceful ${i}` })));
    const env = serviceEnv(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: PREFIX,
      CONCURRENCY: "4",
      VISIBILITY_TIMEOUT_SECONDS: "120",
      SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
    });

    first = spawnService(env);
    const base1 = await first.base();
    await waitFor(async () => (await metricValue(base1, "sqs_archiver_messages_deleted_total")) >= 80, 30_000, 50);
    expect(await metricValue(base1, "sqs_archiver_messages_in_flight")).toBeGreaterThan(0);

    const signalledAt = Date.now();
    first.child.kill("SIGTERM");
    const exit = await first.exited;
    const elapsed = Date.now() - signalledAt;
    expect(exit.code).toBe(0);
    expect(elapsed).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS * 1000);
    const done = first.events("shutdown_complete")[0];
    expect(done?.clean).toBe(true);
    expect(first.events("shutdown_deadline")).toEqual([]);

    // Nothing invisible: every received message was deleted (after its archive) or handed back.
    const depth = await backend.queueDepth(queueUrl);
    expect(depth.inFlight).toBe(0);
    const keys = await backend.listKeys(BUCKET, PREFIX);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.length + depth.visible).toBe(N);

    // A successor drains the rest; it finds no archive whose message was left behind undeleted.
    second = spawnService(env);
    const base2 = await second.base();
    await waitForDrained(backend, queueUrl, 60_000);
    await expectExactlyOnce(backend, BUCKET, PREFIX, sent);
    expect(await metricValue(base2, "sqs_archiver_duplicate_deliveries_total")).toBe(0);
    expect(backend.proxy.preconditionFailures).toBe(0);
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  }, 90_000);
});
