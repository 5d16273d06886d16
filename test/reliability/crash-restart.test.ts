import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue, startBackend, waitFor, type Backend } from "../support/harness.js";
import { expectExactlyOnce, sendAll, waitForDrained } from "../support/reliability.js";
import { assertBuilt, ensureDead, serviceEnv, spawnService, type ChildService } from "../support/process.js";

/**
 * kill -9 of the real process in the middle of a backlog, at a moment when archives have been written whose deletes
 * have not gone through, then a restart: every message ends up in S3 exactly once with its exact body, the queue
 * drains and nothing stays invisible once the visibility timeout has passed. The emulator lives in the test process,
 * so it survives the crash.
 */
const BUCKET = "crash-restart";
const PREFIX = "crash/";
const N = 1200;

describe("crash and restart", () => {
  let backend: Backend;
  let first: ChildService | undefined;
  let second: ChildService | undefined;

  beforeAll(async () => {
    assertBuilt();
    backend = await startBackend();
    backend.createBucket(BUCKET);
  });
  afterAll(async () => {
    await ensureDead(first);
    await ensureDead(second);
    await backend?.close();
  });

  it("kill -9 mid-backlog, restart: every message archived exactly once, byte for byte, queue drained", async () => {
    const queueUrl = await backend.createQueue("crash-q");
    const bodies = Array.from({ length: N }, (_, i) =>
      i % 3 === 0 ? `plain ${i} \t<tag a="&amp;">ÄÖÜ €</tag>\r\n` : JSON.stringify({ i, text: `crash test ${i}`, pad: "z".repeat(i % 200) }),
    );
    const sent = await sendAll(backend, queueUrl, bodies);
    const env = serviceEnv(backend, {
      SQS_QUEUE_URL: queueUrl,
      S3_BUCKET_NAME: BUCKET,
      S3_PREFIX: PREFIX,
      CONCURRENCY: "8",
      VISIBILITY_TIMEOUT_SECONDS: "3",
    });

    first = spawnService(env);
    const base1 = await first.base();
    // Metrics, not bucket listings, to follow progress: listing thousands of keys in a loop starves the emulator.
    await waitFor(async () => (await metricValue(base1, "sqs_archiver_messages_deleted_total")) >= 300, 30_000, 100);
    // Deletes stop answering: archives keep being written but their messages are never deleted before the crash.
    backend.proxy.setFaults([{ match: (op) => op.name === "DeleteMessageBatch", action: { kind: "hang" } }]);
    await waitFor(async () => (await metricValue(base1, "sqs_archiver_messages_archived_total")) - (await metricValue(base1, "sqs_archiver_messages_deleted_total")) >= 20, 10_000);
    first.child.kill("SIGKILL");
    const exit = await first.exited;
    expect(exit.signal).toBe("SIGKILL");

    // A PutObject the dead process had already sent still completes in the proxy: wait until the bucket stops changing.
    let keysAtCrash = -1;
    for (let previous = -2; keysAtCrash !== previous; ) {
      previous = keysAtCrash;
      await new Promise((r) => setTimeout(r, 250));
      keysAtCrash = (await backend.listKeys(BUCKET, PREFIX)).length;
    }
    expect(keysAtCrash).toBeGreaterThan(0);
    expect(keysAtCrash).toBeLessThan(N);
    // Work was caught mid-air: received messages are invisible and will come back after their timeout.
    const depth = await backend.queueDepth(queueUrl);
    expect(depth.inFlight).toBeGreaterThan(0);

    backend.proxy.clearFaults();
    second = spawnService(env);
    const base2 = await second.base();
    // Drained = every message deleted, which the service only does after its archive exists.
    await waitForDrained(backend, queueUrl, 60_000);
    await expectExactlyOnce(backend, BUCKET, PREFIX, sent);
    // The messages archived but not deleted before the crash came back and were recognised, not rewritten.
    const duplicates = await metricValue(base2, "sqs_archiver_duplicate_deliveries_total");
    expect(duplicates).toBeGreaterThanOrEqual(20);
    expect(await metricValue(base2, "sqs_archiver_messages_archived_total")).toBe(N - keysAtCrash);
    expect(backend.proxy.preconditionFailures).toBe(duplicates);

    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  }, 120_000);
});
