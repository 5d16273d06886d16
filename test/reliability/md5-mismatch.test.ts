import { describe, expect, it } from "vitest";
import { metricValue, startService, waitFor, useBackend } from "../support/harness.js";
import { createQueueWithDlq, drainQueue } from "../support/redrive.js";
import { expectExactlyOnce, sendAll, waitForDrained } from "../support/reliability.js";

/**
 * A body corrupted between SQS and the service (it no longer hashes to MD5OfBody) is not archived as good: it is
 * counted, logged with its id, left undeleted so it redelivers, and the redrive policy moves it to the DLQ intact.
 * Its neighbours in the same receive are archived and deleted as usual.
 */
const BUCKET = "md5-mismatch";
const MARK = "corrupt-in-transit";

describe("MD5 mismatch between body and MD5OfBody", () => {
  const backend = useBackend(BUCKET);

  it("is never archived, is counted, and ends in the DLQ with its original body", async () => {
    const { queueUrl, dlqUrl } = await createQueueWithDlq(backend, "md5-src", 2, 2);
    // Flip one character of marked bodies in every ReceiveMessage response; MD5OfBody stays the sender's.
    backend.proxy.setTransforms({
      response(op, body, _req, status) {
        if (op.name !== "ReceiveMessage" || status !== 200) return body;
        const out = JSON.parse(body.toString("utf8")) as { Messages?: Array<{ Body: string }> };
        for (const m of out.Messages ?? []) if (m.Body.includes(MARK)) m.Body = m.Body.replace(MARK, MARK.toUpperCase());
        return Buffer.from(JSON.stringify(out));
      },
    });
    const bodies = Array.from({ length: 9 }, (_, i) => `intact ${i}`);
    const corruptBody = `{"payload":"${MARK}"}`;
    const sentGood = await sendAll(backend, queueUrl, bodies.slice(0, 5));
    const corruptId = await backend.send(queueUrl, corruptBody);
    for (const [id, b] of await sendAll(backend, queueUrl, bodies.slice(5))) sentGood.set(id, b);

    const svc = await startService(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "1", VISIBILITY_TIMEOUT_SECONDS: "2", LOG_LEVEL: "info" });
    try {
      await waitForDrained(backend, queueUrl, 30_000);
      await waitFor(async () => (await backend.queueDepth(dlqUrl)).visible === 1, 10_000);
      await expectExactlyOnce(backend, BUCKET, "sqs-messages/", sentGood);
      expect((await backend.listKeys(BUCKET)).some((k) => k.includes(corruptId))).toBe(false);

      expect(await metricValue(svc.base, "sqs_archiver_failures_total", { stage: "verify", reason: "MD5_MISMATCH" })).toBe(2);
      expect(await metricValue(svc.base, "sqs_archiver_messages_archived_total")).toBe(sentGood.size);
      const rejected = svc.logs.events("message_rejected");
      expect(rejected.length).toBe(2);
      for (const l of rejected) expect(l).toMatchObject({ messageId: corruptId, code: "MD5_MISMATCH" });
      // Deleted: only the good ones.
      expect(await metricValue(svc.base, "sqs_archiver_messages_deleted_total")).toBe(sentGood.size);

      const [dead] = await drainQueue(backend, dlqUrl);
      expect(dead?.MessageId).toBe(corruptId);
      expect(dead?.Body).toBe(corruptBody);
    } finally {
      backend.proxy.setTransforms({});
      await svc.stop();
    }
  }, 60_000);
});
