/**
 * The alerts end to end: a real Prometheus server (Debian's `prometheus`, /usr/bin/prometheus) scrapes the real
 * service process (dist/main.js against the embedded emulator behind the fault-injecting proxy) and evaluates the
 * chart's rendered rules. Healthy: no alert at all. S3 outage (every PutObject answers 503): SqsArchiverFailuresRising
 * goes pending, then firing within its `for:`. Recovery: it resolves, and every message is archived. The chart's
 * prometheusRule.failures.rateWindow / .for are set to test-sized durations (30s / 10s) and Prometheus evaluates every
 * second; everything else is the chart's default rendering for annotation-based scraping, whose kubernetes-pods job
 * labels (namespace, pod) the scrape config sets as Kubernetes service discovery would.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { waitFor } from "../support/harness.js";
import { freePort, serviceEnv, useRealProcess } from "../support/process.js";
import { CHART } from "./helpers.js";
import { renderRules, which } from "./prom-rules.js";

const PROMETHEUS = which("prometheus");
const BUCKET = "alerts-e2e";
const POD = "sqs-archiver-5d8f7c9b4-x7k2p";
const ALERT = "SqsArchiverFailuresRising";
const RATE_WINDOW_S = 30;
const FOR_S = 10;

interface PromAlert {
  labels: Record<string, string>;
  state: "pending" | "firing";
  activeAt: string;
  value: string;
}

const title = PROMETHEUS
  ? "alerts on a real Prometheus scraping the real service"
  : "alerts on a real Prometheus scraping the real service (SKIPPED: no `prometheus` binary on PATH; apt-get install -y prometheus, as .ci/run does)";

describe.skipIf(!PROMETHEUS)(title, () => {
  const { backend, spawn: spawnArchiver } = useRealProcess(BUCKET);
  const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-prometheus-"));
  let prometheus: ChildProcess | undefined;
  let promLog = "";
  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      prometheus.kill("SIGTERM");
      await new Promise((r) => prometheus?.once("exit", r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const api = async <T>(base: string, path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`);
    const body = (await res.json()) as { status: string; data: T };
    if (body.status !== "success") throw new Error(`${path}: ${JSON.stringify(body)}`);
    return body.data;
  };
  const alerts = async (base: string) => (await api<{ alerts: PromAlert[] }>(base, "/api/v1/alerts")).alerts;

  it("healthy: no alert; S3 outage: the archive-failure alert goes pending then firing within its for:; recovery: resolved", async () => {
    const queueUrl = await backend.createQueue("alerts-e2e-q");
    const svc = spawnArchiver(serviceEnv(backend, { SQS_QUEUE_URL: queueUrl, S3_BUCKET_NAME: BUCKET, CONCURRENCY: "2", VISIBILITY_TIMEOUT_SECONDS: "2" }));
    const metricsTarget = new URL(await svc.base()).host;

    // The chart's rules as rendered for this test: annotation scraping, test-sized failure window, no CloudWatch exporter here.
    const rendered = renderRules([
      "-f",
      join(CHART, "ci/default-values.yaml"),
      "--set",
      `prometheusRule.enabled=true,prometheusRule.cloudwatch.enabled=false,prometheusRule.failures.rateWindow=${RATE_WINDOW_S}s,prometheusRule.failures.for=${FOR_S}s`,
    ]);
    const failures = rendered.rules.find((r) => r.alert === ALERT);
    expect(failures?.for).toBe(`${FOR_S}s`);
    writeFileSync(join(dir, "rules.yaml"), rendered.file);
    writeFileSync(
      join(dir, "prometheus.yml"),
      stringify({
        global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
        rule_files: [join(dir, "rules.yaml")],
        scrape_configs: [{ job_name: "kubernetes-pods", static_configs: [{ targets: [metricsTarget], labels: { namespace: "sqs-archiver", pod: POD } }] }],
      }),
    );
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      PROMETHEUS as string,
      [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    prometheus.stderr?.on("data", (c: Buffer) => (promLog += c.toString("utf8")));

    // Prometheus is up, scrapes the service and has loaded every rendered rule.
    await waitFor(async () => {
      try {
        const groups = (await api<{ groups: Array<{ rules: unknown[] }> }>(base, "/api/v1/rules")).groups;
        return groups.flatMap((g) => g.rules).length === rendered.rules.length;
      } catch {
        return false;
      }
    }, 30_000, 250);
    await waitFor(async () => {
      const r = await api<{ result: unknown[] }>(base, `/api/v1/query?query=${encodeURIComponent(`sqs_archiver_build_info{namespace="sqs-archiver",pod="${POD}"}`)}`);
      return r.result.length === 1;
    }, 30_000, 250);

    // Rules evaluated before the first scrape saw no series (SqsArchiverAbsent pending): the next evaluations clear it.
    await waitFor(async () => (await alerts(base)).length === 0, 10_000, 250);
    // Healthy: messages flow, and for longer than the failure window + for:, nothing is pending or firing.
    const healthyIds = await backend.sendMany(queueUrl, Array.from({ length: 20 }, (_, i) => `{"healthy":${i}}`));
    const quietUntil = Date.now() + (RATE_WINDOW_S + FOR_S) * 1000;
    while (Date.now() < quietUntil) {
      const now = await alerts(base);
      expect(now, `a healthy service raises no alert: ${JSON.stringify(now)}`).toEqual([]);
      await new Promise((r) => setTimeout(r, 1000));
    }
    await waitFor(async () => (await backend.listKeys(BUCKET)).length >= healthyIds.length, 20_000, 250);

    // S3 outage: every PutObject is refused; messages keep arriving and keep failing.
    backend.proxy.setFaults([{ match: (op) => op.service === "s3" && op.name === "PutObject", action: { kind: "status", status: 503, code: "ServiceUnavailable" } }]);
    const outageStart = Date.now();
    const outageIds = await backend.sendMany(queueUrl, Array.from({ length: 20 }, (_, i) => `{"during-outage":${i}}`));
    const pending = await waitFor(async () => (await alerts(base)).find((a) => a.labels.alertname === ALERT && a.state === "pending"), 60_000, 250);
    expect(pending.labels).toMatchObject({ namespace: "sqs-archiver", stage: "archive", severity: "warning" });
    const firing = await waitFor(async () => (await alerts(base)).find((a) => a.labels.alertname === ALERT && a.state === "firing"), 60_000, 250);
    const firedAfter = (Date.now() - outageStart) / 1000;
    // Firing no sooner than for: after it became active, and within window + for: (+ scrape, evaluation and retry slack).
    expect(Date.parse(firing.activeAt)).toBeGreaterThanOrEqual(outageStart - 1000);
    expect(firedAfter).toBeGreaterThanOrEqual(FOR_S);
    expect(firedAfter).toBeLessThan(RATE_WINDOW_S + FOR_S + 30);
    // Only the failure alert: an S3 outage is not a polling, readiness or absence problem within these seconds.
    expect((await alerts(base)).map((a) => a.labels.alertname)).toEqual([ALERT]);

    // Recovery: writes succeed again; once the failures leave the rate window the alert resolves, and nothing is lost.
    backend.proxy.clearFaults();
    const recovered = Date.now();
    await waitFor(async () => (await alerts(base)).length === 0, (RATE_WINDOW_S + FOR_S + 40) * 1000, 500);
    expect((Date.now() - recovered) / 1000).toBeLessThan(RATE_WINDOW_S + 40);
    await waitFor(async () => (await backend.listKeys(BUCKET)).length >= healthyIds.length + outageIds.length, 30_000, 250);
    const keys = await backend.listKeys(BUCKET);
    for (const id of [...healthyIds, ...outageIds]) expect(keys.some((k) => k.endsWith(`/${id}.json`)), id).toBe(true);
    expect(promLog, "prometheus reported no errors").not.toMatch(/level=error/);
  }, 240_000);
});
