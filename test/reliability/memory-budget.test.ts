import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { metricValue, startBackend, waitFor, type Backend } from "../support/harness.js";
import { readArchive, sleep } from "../support/reliability.js";
import { assertBuilt, ensureDead, serviceEnv, spawnService, type ChildService } from "../support/process.js";

/**
 * Memory stays bounded whatever the bodies: 1 MiB bodies of `"` (JSON escaping doubles the envelope) at the default
 * CONCURRENCY 8 x 10 drain in a 128 MiB old space, because the in-flight byte budget (MAX_INFLIGHT_BYTES) makes
 * receives wait (80 bodies: every loop's full batch at once; without the budget this needs ~650 MiB).
 */
const BUCKET = "memory-budget";
const BODY = '"'.repeat(1024 * 1024 - 64);
const N = 80;

describe("in-flight byte budget, real process", () => {
  let backend: Backend;
  let svc: ChildService | undefined;
  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await ensureDead(svc);
    await backend?.close();
  });

  it("drains 1 MiB escape-heavy bodies with CONCURRENCY 8 in a 128 MiB heap, never holding more than the budget", async () => {
    backend = await startBackend();
    backend.createBucket(BUCKET);
    const queueUrl = await backend.createQueue("big-bodies");
    const ids: string[] = [];
    for (let i = 0; i < N; i++) ids.push(await backend.send(queueUrl, BODY));
    const limit = 8 * 1024 * 1024;
    svc = spawnService({
      ...serviceEnv(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "8", MAX_INFLIGHT_BYTES: String(limit), VISIBILITY_TIMEOUT_SECONDS: "60" }),
      NODE_OPTIONS: "--max-old-space-size=128 --max-semi-space-size=8",
    });
    const base = await svc.base();
    let peak = 0;
    await waitFor(
      async () => {
        if (svc?.child.exitCode !== null) throw new Error(`service exited: ${svc?.stderr.join("\n").slice(0, 500)}`);
        peak = Math.max(peak, await metricValue(base, "sqs_archiver_inflight_bytes"));
        return (await metricValue(base, "sqs_archiver_messages_deleted_total")) === N;
      },
      60_000,
      20,
    );
    // A poll is admitted only with room for ten bodies as large as the largest seen (1 MiB before any is seen), or
    // alone when nothing is held: never more than the budget, or one poll's worth when the budget is below that.
    expect(await metricValue(base, "sqs_archiver_inflight_bytes_limit")).toBe(limit);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(Math.max(limit, 10 * 1024 * 1024));
    await sleep(100);
    expect(svc.child.exitCode).toBeNull();
    const archive = await readArchive(backend, BUCKET, "sqs-messages/");
    expect([...archive.keys()].sort()).toEqual([...ids].sort());
    for (const env of archive.values()) expect(env.body === BODY).toBe(true);
    svc.child.kill("SIGTERM");
    expect((await svc.exited).code).toBe(0);
  }, 120_000);
});
