import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FaultRule } from "../support/aws-proxy.js";
import { getJson, metricValue, startBackend, waitFor, type Backend } from "../support/harness.js";
import { expectExactlyOnce, sendAll, sleep, waitForDrained } from "../support/reliability.js";
import { assertBuilt, ensureDead, serviceEnv, spawnService, type ChildService } from "../support/process.js";

/**
 * Issue 8 #3: the bucket lives in another region than the one the S3 client signs for. S3 answers every request with
 * 301 PermanentRedirect (HEAD: no body) and names the bucket's region in `x-amz-bucket-region`; the SDK does not
 * follow it. Before: `unknown`, not bucket-wide, readiness green while every message marched to the DLQ. Now: a
 * start-up check logs the expected and actual region, readiness is 503 with a reason naming the region problem and
 * the bucket's region, writes fail with `wrong_region`, nothing is deleted; S3_REGION fixes it.
 */
const BUCKET = "bucket-in-eu-west-1";
const BUCKET_REGION = "eu-west-1";

/** What S3 answers a request signed for (and sent to) another region than the bucket's. */
function s3InOtherRegion(): FaultRule {
  return {
    match: (op) => op.service === "s3" && (op.name === "PutObject" || op.name === "HeadBucket") && op.region !== undefined && op.region !== BUCKET_REGION,
    action: {
      kind: "status",
      status: 301,
      code: "PermanentRedirect",
      headers: { "x-amz-bucket-region": BUCKET_REGION },
      body:
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be ` +
        `addressed using the specified endpoint. Please send all future requests to this endpoint.</Message>` +
        `<Endpoint>${BUCKET}.s3.${BUCKET_REGION}.amazonaws.com</Endpoint><Bucket>${BUCKET}</Bucket>` +
        `<RequestId>9B2FAC5A1DE4B2C1</RequestId><HostId>bWFkZS11cA==</HostId></Error>`,
    },
  };
}

describe("bucket in another region (301 PermanentRedirect + x-amz-bucket-region)", () => {
  let backend: Backend;
  let svc: ChildService | undefined;

  beforeAll(async () => {
    assertBuilt();
    backend = await startBackend();
    backend.createBucket(BUCKET);
    backend.proxy.setFaults([s3InOtherRegion()]);
  });
  afterEach(async () => {
    if (svc && svc.child.exitCode === null) {
      svc.child.kill("SIGTERM");
      await svc.exited;
    }
    await ensureDead(svc);
    svc = undefined;
  });
  afterAll(async () => {
    await backend?.close();
  });

  it("start-up check logs both regions; readiness 503 names the region problem; writes fail bucket-wide; nothing deleted", async () => {
    const queueUrl = await backend.createQueue("wrong-region-q");
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 5 }, (_, i) => `to a bucket elsewhere ${i}`));
    const deletesBefore = backend.proxy.counts.get("DeleteMessageBatch") ?? 0;
    svc = spawnService(serviceEnv(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "2", VISIBILITY_TIMEOUT_SECONDS: "3" }));
    const base = await svc.base();

    const check = await waitFor(() => svc?.events("bucket_wrong_region")[0], 10_000);
    expect(check).toMatchObject({ level: "error", bucket: BUCKET, expectedRegion: "us-east-1", actualRegion: BUCKET_REGION });
    expect(String(check.msg)).toContain("set S3_REGION=eu-west-1");

    const failed = await waitFor(() => svc?.events("archive_failed")[0], 15_000);
    expect(failed).toMatchObject({ reason: "wrong_region" });
    const ready = await waitFor(async () => {
      const r = await getJson(`${base}/ready`);
      return r.status === 503 && String(r.body.reason).includes("wrong_region") ? r : undefined;
    }, 10_000);
    expect(ready.body.reason).toBe("S3 writes failing: wrong_region (bucket is in eu-west-1, the S3 client uses us-east-1: set S3_REGION=eu-west-1)");
    await sleep(1500);
    expect((await getJson(`${base}/ready`)).status).toBe(503);
    expect((await getJson(`${base}/health`)).status).toBe(200);
    expect(await metricValue(base, "sqs_archiver_failures_total", { stage: "archive", reason: "wrong_region" })).toBeGreaterThan(0);
    expect(await metricValue(base, "sqs_archiver_poll_backoffs_total", { reason: "s3_errors" })).toBeGreaterThan(0);
    expect(await metricValue(base, "sqs_archiver_messages_archived_total")).toBe(0);
    expect((backend.proxy.counts.get("DeleteMessageBatch") ?? 0) - deletesBefore).toBe(0);
    const depth = await backend.queueDepth(queueUrl);
    expect(depth.visible + depth.inFlight).toBe(sent.size);
  }, 40_000);

  it("S3_REGION set to the bucket's region: the check passes and every message is archived", async () => {
    const queueUrl = await backend.createQueue("right-region-q");
    const sent = await sendAll(backend, queueUrl, Array.from({ length: 5 }, (_, i) => `to the right region ${i}`));
    svc = spawnService(
      serviceEnv(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, S3_REGION: BUCKET_REGION, S3_PREFIX: "right/", CONCURRENCY: "2" }),
    );
    const base = await svc.base();
    await waitForDrained(backend, queueUrl, 20_000);
    await expectExactlyOnce(backend, BUCKET, "right/", sent);
    await waitFor(async () => (await getJson(`${base}/ready`)).status === 200, 10_000);
    expect(svc.events("bucket_wrong_region")).toEqual([]);
    expect(svc.events("bucket_checked")[0]).toMatchObject({ bucket: BUCKET });
    // The emulator checks no signatures; the proxy answered only requests signed for us-east-1 with the redirect.
    expect(backend.proxy.s3Writes.filter((w) => w.key?.startsWith("right/")).every((w) => String(w.headers.authorization).includes(`/${BUCKET_REGION}/s3/`))).toBe(true);
  }, 40_000);
});
