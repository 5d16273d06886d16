import { describe, expect, it } from "vitest";
import { byMessageId, readAllLines } from "../support/archive-reader.js";
import { metricValue, waitFor } from "../support/harness.js";
import { sendAll, sleep, waitForDrained } from "../support/reliability.js";
import { serviceEnv, useRealProcess } from "../support/process.js";

/**
 * An S3 brownout: PutObject stores the object, but its answer, and the 412s answered to the SDK's retries, arrive
 * after every attempt's timeout. The write's outcome is unknown, not failed: before giving up on it the service asks
 * S3 whether the object exists (HeadObject on its key) and, when it does, treats the messages as durable and deletes
 * them at their first delivery. Both archive formats answer the question the same way.
 */
const BUCKET = "unknown-write-outcome";

const BROWNOUT_MS = 7_000;

describe("a write whose outcome is unknown (stored, answers late)", () => {
  const { backend, spawn } = useRealProcess(BUCKET);

  for (const format of ["ndjson", "message"] as const) {
    it(`${format}: a message whose object was stored during the brownout is on exactly one line and never redelivered`, async () => {
      const prefix = `${format}/`;
      const queueUrl = await backend.createQueue(`unknown-outcome-${format}`);
      const svc = spawn(
        serviceEnv(backend, {
          SQS_QUEUE_URL: queueUrl,
          S3_BUCKET_NAME: BUCKET,
          S3_PREFIX: prefix,
          ARCHIVE_FORMAT: format,
          BATCH_MAX_SECONDS: "1",
          S3_REQUEST_TIMEOUT_SECONDS: "1",
          VISIBILITY_TIMEOUT_SECONDS: "8",
          CONCURRENCY: "1",
        }),
      );
      const base = await svc.base();
      const now = Date.now();
      // From now on, for 7 s, every PutObject is stored upstream and answered 2.5 s late (the request timeout is 1 s).
      backend.proxy.setFaults([{ match: (op) => op.name === "PutObject", action: { kind: "late", delayMs: 2_500 }, fromMs: now, untilMs: now + BROWNOUT_MS }]);
      const sent = await sendAll(backend, queueUrl, Array.from({ length: 5 }, (_, i) => `brownout ${format} ${i}`));
      // More messages while the first write's outcome is still open: a redelivery would be grouped with these.
      await sleep(3_000);
      for (const [id, body] of await sendAll(backend, queueUrl, Array.from({ length: 5 }, (_, i) => `later ${format} ${i}`))) sent.set(id, body);
      await sleep(Math.max(0, now + BROWNOUT_MS - Date.now()));
      await waitForDrained(backend, queueUrl, 60_000);
      await waitFor(async () => (await metricValue(base, "sqs_archiver_messages_deleted_total")) >= sent.size, 10_000, 100);

      const ids = byMessageId(await readAllLines(backend, BUCKET, prefix));
      expect([...ids.keys()].sort()).toEqual([...sent.keys()].sort());
      for (const [id, places] of ids) expect(places.map((p) => p.key), `lines of ${id}`).toHaveLength(1);
      for (const [id, body] of sent) expect(ids.get(id)?.[0]?.envelope.body).toBe(body);
      expect(await metricValue(base, "sqs_archiver_redeliveries_total")).toBe(0);
      expect(await metricValue(base, "sqs_archiver_duplicate_deliveries_total")).toBe(0);
      expect(await metricValue(base, "sqs_archiver_messages_archived_total")).toBe(sent.size);
      expect(await metricValue(base, "sqs_archiver_write_outcome_checks_total", { result: "stored" })).toBeGreaterThan(0);
      expect(backend.proxy.counts.get("HeadObject") ?? 0).toBeGreaterThan(0);
      svc.child.kill("SIGTERM");
      expect((await svc.exited).code).toBe(0);
    }, 120_000);
  }
});
