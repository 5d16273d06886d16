import { describe, expect, it } from "vitest";
import { metricValue, startService, waitFor, useBackend } from "../support/harness.js";
import { createQueueWithDlq, drainQueue } from "../support/redrive.js";
import { expectExactlyOnce, sendAll, waitForDrained } from "../support/reliability.js";

/**
 * A message that can never be archived (every PutObject of its key fails) ends up in the DLQ after maxReceiveCount
 * receives, with its body intact, while its neighbours are archived; the metrics and logs say why. After the fix,
 * moving it back (what `aws sqs start-message-move-task` does; the emulator has no move task, so the test moves it
 * by hand) archives it.
 */
const BUCKET = "redrive";

describe("redrive to the DLQ", () => {
  const backend = useBackend(BUCKET);

  it("an unarchivable message lands in the DLQ after maxReceiveCount receives; metrics and logs say why", async () => {
    const { queueUrl, dlqUrl } = await createQueueWithDlq(backend, "redrive-src", 2, 2);
    let poisonId = "";
    let poisonPuts = 0;
    backend.proxy.setFaults([
      {
        match: (op) => {
          const hit = op.name === "PutObject" && poisonId !== "" && (op.key ?? "").endsWith(`/${poisonId}.json`);
          if (hit) poisonPuts++;
          return hit;
        },
        action: { kind: "status", status: 500, code: "InternalError", message: "We encountered an internal error." },
      },
    ]);
    const bodies = Array.from({ length: 9 }, (_, i) => `good ${i}`);
    const poisonBody = JSON.stringify({ poison: true, note: "cannot be archived until the fix" });
    // Sent before the service starts, so the fault is armed before its first receive.
    const sentGood = await sendAll(backend, queueUrl, bodies);
    poisonId = await backend.send(queueUrl, poisonBody);
    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "2", VISIBILITY_TIMEOUT_SECONDS: "2", LOG_LEVEL: "info" });
    try {
      await waitForDrained(backend, queueUrl, 30_000);
      const dlq = await waitFor(async () => {
        const d = await backend.queueDepth(dlqUrl);
        return d.visible === 1 ? d : undefined;
      }, 10_000);
      expect(dlq.visible).toBe(1);
      // Neighbours archived; the poison message has no object.
      await expectExactlyOnce(backend, BUCKET, "sqs-messages/", sentGood);

      // Why: each delivery failed the write with a stable reason, logged with the message id.
      const failed = svc.logs.events("archive_failed").filter((l) => l.messageId === poisonId);
      expect(failed.length).toBe(2);
      for (const l of failed) expect(l).toMatchObject({ reason: "server_error", err: { code: "InternalError" } });
      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "archive", reason: "server_error" })).toBe(2);
      expect(poisonPuts).toBeGreaterThanOrEqual(2);
      // The redrive policy was seen at start-up.
      expect(svc.logs.events("queue_checked")[0]).toMatchObject({ redrivePolicy: { maxReceiveCount: 2 } });
      expect(svc.logs.events("no_redrive_policy")).toEqual([]);

      const [dead] = await drainQueue(backend, dlqUrl);
      expect(dead?.MessageId).toBe(poisonId);
      expect(dead?.Body).toBe(poisonBody);
      expect(Number(dead?.Attributes?.ApproximateReceiveCount)).toBeGreaterThanOrEqual(2);

      // After the fix, redrive it back: it is archived.
      backend.proxy.clearFaults();
      const redriven = await sendAll(backend, queueUrl, [dead?.Body as string]);
      await waitForDrained(backend, queueUrl, 15_000);
      await expectExactlyOnce(backend, BUCKET, "sqs-messages/", new Map([...sentGood, ...redriven]));
    } finally {
      backend.proxy.clearFaults();
      await svc.stop();
    }
  }, 60_000);
});
