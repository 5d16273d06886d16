import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { SQS_DELETE_TRIES, SQS_MAX_ATTEMPTS, SQS_REQUEST_TIMEOUT_SLACK_SECONDS } from "../../src/config.js";
import { getJson, startBackend, waitFor, type Backend } from "../support/harness.js";
import { sendAll, sleep } from "../support/reliability.js";
import { assertBuilt, ensureDead, serviceEnv, spawnService, type ChildService } from "../support/process.js";

/**
 * Issue 8 #4: liveness failed while only SQS deletes hung. The stuck threshold ignored the SQS calls a loop makes
 * inside the handler: with WAIT_TIME_SECONDS=20 and a short S3 timeout it was 120 s, while a hanging
 * DeleteMessageBatch held the loop for up to 2 tries x 3 attempts x (WAIT + 10) s = 180 s, so Kubernetes restarted a
 * healthy pod during an SQS brownout. The threshold is now the sum of every (bounded) wait of a loop, reported on
 * /health as `stuck_after_seconds`.
 *
 * The fast test checks, on the real process in that configuration with deletes hanging, that the threshold it uses
 * outlasts the longest hold. The full reproduction (deletes hanging past the old 120 s while /health is watched) takes
 * 150 s, so it runs only with SQS_ARCHIVER_LONG_TESTS=1.
 */
const BUCKET = "liveness-sqs-hang";
const WAIT = 20;
const env = (backend: Backend, queueUrl: string) =>
  serviceEnv(backend, {
    SQS_QUEUE_URL: queueUrl,
    S3_BUCKET_NAME: BUCKET,
    CONCURRENCY: "1",
    WAIT_TIME_SECONDS: String(WAIT),
    S3_REQUEST_TIMEOUT_SECONDS: "1",
    VISIBILITY_TIMEOUT_SECONDS: "600",
    // The shortest drain the service accepts with a 20 s long poll (WAIT_TIME_SECONDS + 5).
    SHUTDOWN_TIMEOUT_SECONDS: "25",
  });
/** The longest the SDK alone lets one hanging delete hold the loop (before the handler bounds each call). */
const UNBOUNDED_DELETE_HOLD_SECONDS = SQS_DELETE_TRIES * SQS_MAX_ATTEMPTS * (WAIT + SQS_REQUEST_TIMEOUT_SLACK_SECONDS);

describe("liveness while DeleteMessageBatch hangs", () => {
  let backend: Backend;
  let svc: ChildService | undefined;

  beforeAll(async () => {
    assertBuilt();
    backend = await startBackend();
    backend.createBucket(BUCKET);
  });
  afterEach(async () => {
    backend.proxy.clearFaults();
    await ensureDead(svc);
    svc = undefined;
  });
  afterAll(async () => {
    await backend?.close();
  });

  async function holdLoopInDelete(name: string): Promise<string> {
    const queueUrl = await backend.createQueue(name);
    backend.proxy.setFaults([{ match: (op) => op.name === "DeleteMessageBatch", action: { kind: "hang" } }]);
    svc = spawnService(env(backend, queueUrl));
    const base = await svc.base();
    await sendAll(backend, queueUrl, ["archived, then its delete hangs"]);
    // The message is archived and the loop now waits on its delete.
    await waitFor(() => (backend.proxy.counts.get("DeleteMessageBatch") ?? 0) > 0 || undefined, 30_000, 50);
    expect((await backend.listKeys(BUCKET)).length).toBeGreaterThan(0);
    return base;
  }

  it("the real process's stuck threshold outlasts everything a hanging delete can hold the loop for", async () => {
    const base = await holdLoopInDelete("hang-fast");
    await sleep(1000);
    const health = await getJson(`${base}/health`);
    expect(health.status).toBe(200);
    expect(typeof health.body.stuck_after_seconds).toBe("number");
    // More than the delete hold, plus a whole archive step and a long poll before it.
    expect(health.body.stuck_after_seconds as number).toBeGreaterThan(UNBOUNDED_DELETE_HOLD_SECONDS + WAIT + 10);
  }, 40_000);

  it.runIf(process.env.SQS_ARCHIVER_LONG_TESTS === "1")(
    "/health stays 200 while deletes hang for 150 s (the old threshold failed it at 120 s)",
    async () => {
      const base = await holdLoopInDelete("hang-long");
      const started = Date.now();
      const failures: string[] = [];
      while (Date.now() - started < 150_000) {
        const h = await getJson(`${base}/health`);
        if (h.status !== 200) failures.push(`${Math.round((Date.now() - started) / 1000)}s: ${String(h.body.reason)}`);
        if (failures.length > 0) break;
        await sleep(1000);
      }
      expect(failures).toEqual([]);
    },
    200_000,
  );
});
