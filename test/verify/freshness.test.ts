/**
 * The live counterpart of verify: sqs_archiver_oldest_unarchived_message_age_seconds. Unit tests of the tracker, and
 * the real process (`node dist/main.js`) holding a message through an S3 outage: the gauge grows across redeliveries,
 * and falls back to 0 once the message is archived.
 */
import { describe, expect, it } from "vitest";
import { FreshnessTracker } from "../../src/receive/freshness.js";
import { metricValue, waitFor } from "../support/harness.js";
import { serviceEnv, useRealProcess } from "../support/process.js";

const GAUGE = "sqs_archiver_oldest_unarchived_message_age_seconds";
const failed = { status: "failed", reason: "server_error", sinkFatal: false, aborted: false } as const;

describe("FreshnessTracker", () => {
  it("ages from the first receive, survives a failed write until redelivered, clears when durable", () => {
    let now = 1_000_000;
    const t = new FreshnessTracker(60_000, () => now);
    expect(t.oldestAgeSeconds()).toBe(0);
    t.received("a");
    now += 5000;
    t.received("b");
    expect(t.oldestAgeSeconds()).toBe(5);
    t.settled("a", failed);
    now += 30_000;
    t.received("a"); // redelivered: still aged from its first receive
    expect(t.oldestAgeSeconds()).toBe(35);
    t.settled("a", { status: "written", key: "k" });
    expect(t.oldestAgeSeconds()).toBe(30);
    t.settled("b", { status: "already_stored", key: "k" });
    expect(t.oldestAgeSeconds()).toBe(0);
    expect(t.size).toBe(0);
  });

  it("forgets a failed message that never comes back, and drops rejected and released ones at once", () => {
    let now = 0;
    const t = new FreshnessTracker(10_000, () => now);
    t.received("gone");
    t.settled("gone", failed);
    now += 9_000;
    expect(t.oldestAgeSeconds()).toBe(9);
    now += 1_000;
    expect(t.oldestAgeSeconds()).toBe(0);
    t.received("poison");
    t.settled("poison", { status: "rejected", code: "MESSAGE_INVALID", detail: "" });
    t.received("released");
    t.settled("released", { ...failed, aborted: true });
    t.received(undefined);
    expect(t.size).toBe(0);
  });
});

describe("oldest unarchived message age, real process through an S3 outage", () => {
  const BUCKET = "freshness";
  const { backend, spawn } = useRealProcess(BUCKET);

  it.each([["message"], ["ndjson"]])("%s mode: grows while S3 refuses writes, back to 0 once archived", async (format) => {
    const queueUrl = await backend.createQueue(`fresh-${format}`);
    const prefix = `${format}/`;
    backend.proxy.setFaults([{ match: (op) => op.name === "PutObject" && (op.key ?? "").startsWith(prefix), action: { kind: "status", status: 500, code: "InternalError" } }]);
    const svc = spawn(
      serviceEnv(backend, {
        SQS_QUEUE_URL: queueUrl,
        S3_BUCKET_NAME: BUCKET,
        S3_PREFIX: prefix,
        CONCURRENCY: "1",
        VISIBILITY_TIMEOUT_SECONDS: format === "ndjson" ? "8" : "2",
        S3_REQUEST_TIMEOUT_SECONDS: "1",
        ARCHIVE_FORMAT: format,
        BATCH_MAX_SECONDS: "1",
      }),
    );
    const base = await svc.base();
    expect(await metricValue(base, GAUGE)).toBe(0);
    await backend.send(queueUrl, "held by the outage");
    // Past one visibility timeout: the message has failed, been redelivered, and failed again, and the age kept growing.
    const grown = await waitFor(async () => {
      const v = await metricValue(base, GAUGE);
      return v >= (format === "ndjson" ? 10 : 5) ? v : undefined;
    }, 40_000, 250);
    expect(grown).toBeGreaterThan(0);
    expect(await backend.listKeys(BUCKET, prefix)).toEqual([]);
    backend.proxy.clearFaults();
    await waitFor(async () => (await backend.listKeys(BUCKET, prefix)).length === 1, 40_000, 200);
    await waitFor(async () => (await metricValue(base, GAUGE)) === 0, 20_000, 200);
  }, 90_000);
});
