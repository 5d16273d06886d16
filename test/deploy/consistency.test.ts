import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { IAM_ACTIONS, KMS_ACTIONS, S3_COMMANDS, SQS_COMMANDS } from "../../src/aws/aws-actions.js";
import { S3_MAX_ATTEMPTS, SERVICE_ENV_VARS, loadConfig } from "../../src/config.js";
import { DEFAULT_HEALTH_PORT, HEALTH_PATH, METRICS_PATH, READY_PATH } from "../../src/http/http-contract.js";
import { createMetrics } from "../../src/metrics.js";
import { CHART, K8S, ROOT, find, helmTemplate, kustomize, type K8sObject } from "./helpers.js";

const FULL = ["-f", join(CHART, "ci/full-values.yaml")];
const MINIMAL = ["-f", join(CHART, "ci/default-values.yaml")];
const REQUIRED = {
  SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
  S3_BUCKET_NAME: "acme-orders-archive",
};

const kustomized = kustomize(K8S);
const helmMinimal = helmTemplate(MINIMAL);
const helmFull = helmTemplate(FULL);
const sources: Array<[string, K8sObject[]]> = [
  ["k8s/", kustomized],
  ["helm (minimal values)", helmMinimal],
  ["helm (all features)", helmFull],
];

function configMapData(objects: K8sObject[]): Record<string, string> {
  const cm = objects.find((o) => o.kind === "ConfigMap" && !o.metadata.name.endsWith("-dashboard")) as
    | (K8sObject & { data: Record<string, string> })
    | undefined;
  if (!cm) throw new Error("no ConfigMap");
  return cm.data;
}

describe("configuration: manifests and the service's config schema agree", () => {
  it.each(sources)("%s ConfigMap has exactly the service's env variable names", (_name, objects) => {
    expect(Object.keys(configMapData(objects)).sort()).toEqual([...SERVICE_ENV_VARS].sort());
  });

  it.each(sources)("%s ConfigMap is valid input to loadConfig", (_name, objects) => {
    const data = configMapData(objects);
    const env = { ...data, SQS_QUEUE_URL: data.SQS_QUEUE_URL || REQUIRED.SQS_QUEUE_URL, S3_BUCKET_NAME: data.S3_BUCKET_NAME || REQUIRED.S3_BUCKET_NAME };
    expect(() => loadConfig(env)).not.toThrow();
  });

  it("the kustomize base leaves the required values empty, so a forgotten overlay fails fast at start-up", () => {
    const data = configMapData(kustomized);
    expect(data.SQS_QUEUE_URL).toBe("");
    expect(data.S3_BUCKET_NAME).toBe("");
    expect(() => loadConfig(data)).toThrow(/SQS_QUEUE_URL/);
  });

  it("the chart's values reach the ConfigMap", () => {
    const data = configMapData(helmFull);
    const config = loadConfig(data);
    expect(config.prefix).toBe("archive/orders/");
    expect(config.sse).toBe("aws:kms");
    expect(config.storageClass).toBe("STANDARD_IA");
    expect(config.region).toBe("eu-west-1");
  });

  it("batched-mode values reach the ConfigMap and load as the service reads them", () => {
    const config = loadConfig(configMapData(helmFull));
    expect(config.archiveFormat).toBe("ndjson");
    expect(config.archiveCompression).toBe("zstd");
    expect(config.batchMaxSeconds).toBe(30);
    expect(config.maxInflightBytes).toBe(32 * 1024 * 1024);
    expect(config.s3Region).toBe("eu-west-1");
    // visibility left to the service: batchMaxSeconds + 4 x s3RequestTimeoutSeconds + 30
    expect(config.visibilityTimeoutSeconds).toBe(30 + S3_MAX_ATTEMPTS * 30 + 30);
    const big = configMapData(helmTemplate([...MINIMAL, "--set", "config.batchMaxBytes=5368709120,config.maxInflightBytes=1073741824"]));
    expect(big.BATCH_MAX_BYTES).toBe("5368709120");
    expect(loadConfig(big).maxInflightBytes).toBe(1024 ** 3);
  });

  it("the chart's ndjson visibility guard refuses exactly what the service refuses", () => {
    const cases: Array<[number, number, number]> = [
      [180, 60, 30],
      [181, 60, 30],
      [60, 10, 10],
      [51, 10, 10],
      [50, 10, 10],
    ];
    for (const [visibility, batch, timeout] of cases) {
      const set = `config.archiveFormat=ndjson,config.visibilityTimeoutSeconds=${visibility},config.batchMaxSeconds=${batch},config.s3RequestTimeoutSeconds=${timeout},config.shutdownTimeoutSeconds=30`;
      let chartOk = true;
      let data: Record<string, string> = {};
      try {
        data = configMapData(helmTemplate([...MINIMAL, "--set", set]));
      } catch {
        chartOk = false;
      }
      const env = {
        ...REQUIRED,
        ARCHIVE_FORMAT: "ndjson",
        VISIBILITY_TIMEOUT_SECONDS: String(visibility),
        BATCH_MAX_SECONDS: String(batch),
        S3_REQUEST_TIMEOUT_SECONDS: String(timeout),
      };
      let serviceOk = true;
      try {
        loadConfig(env);
      } catch {
        serviceOk = false;
      }
      expect(chartOk, set).toBe(serviceOk);
      if (chartOk) expect(() => loadConfig(data), set).not.toThrow();
    }
  });

  it.each(sources)("%s env entries only reference ConfigMap keys that exist", (_name, objects) => {
    const dep = find(objects, "Deployment") as any;
    const data = configMapData(objects);
    for (const e of dep.spec.template.spec.containers[0].env ?? []) {
      const ref = e.valueFrom?.configMapKeyRef;
      if (ref) expect(Object.keys(data), e.name).toContain(ref.key);
    }
  });

  it.each(sources)("%s terminationGracePeriodSeconds covers the long poll plus the drain", (_name, objects) => {
    const dep = find(objects, "Deployment") as any;
    const config = loadConfig({ ...REQUIRED, ...configMapData(objects), SQS_QUEUE_URL: REQUIRED.SQS_QUEUE_URL, S3_BUCKET_NAME: REQUIRED.S3_BUCKET_NAME });
    expect(dep.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(config.waitTimeSeconds + config.shutdownTimeoutSeconds + 5);
  });
});

describe("probes and ports: manifests and the HTTP contract agree", () => {
  it.each(sources)("%s probes use the service's paths on HEALTH_PORT", (_name, objects) => {
    const dep = find(objects, "Deployment") as any;
    const c = dep.spec.template.spec.containers[0];
    const data = configMapData(objects);
    const port = c.ports.find((p: any) => p.name === "http");
    expect(port.containerPort).toBe(DEFAULT_HEALTH_PORT);
    expect(Number(data.HEALTH_PORT)).toBe(port.containerPort);
    expect(c.livenessProbe.httpGet).toEqual({ path: HEALTH_PATH, port: "http" });
    expect(c.startupProbe.httpGet).toEqual({ path: HEALTH_PATH, port: "http" });
    expect(c.readinessProbe.httpGet).toEqual({ path: READY_PATH, port: "http" });
    const svc = find(objects, "Service") as any;
    expect(svc.spec.ports).toEqual([expect.objectContaining({ name: "http", port: DEFAULT_HEALTH_PORT, targetPort: "http" })]);
  });

  it.each([
    ["k8s/", kustomized],
    ["helm (minimal values)", helmMinimal],
  ] as Array<[string, K8sObject[]]>)("%s carries the Prometheus scrape annotations on the pod template only (one scrape per pod)", (_name, objects) => {
    const dep = find(objects, "Deployment") as any;
    expect(dep.spec.template.metadata.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(DEFAULT_HEALTH_PORT),
      "prometheus.io/path": METRICS_PATH,
    });
    // Annotating the Service as well makes the endpoints job scrape every pod a second time.
    const scrapeAnnotated = objects.filter((o) => o.metadata.annotations?.["prometheus.io/scrape"] === "true");
    expect(scrapeAnnotated).toEqual([]);
    expect(find(objects, "Service").metadata.annotations ?? {}).not.toHaveProperty("prometheus.io/scrape");
  });

  it("with the ServiceMonitor on, no scrape annotations at all (the ServiceMonitor is the one scrape)", () => {
    const dep = find(helmFull, "Deployment") as any;
    expect(dep.spec.template.metadata.annotations ?? {}).not.toHaveProperty("prometheus.io/scrape");
    expect(find(helmFull, "Service").metadata.annotations ?? {}).not.toHaveProperty("prometheus.io/scrape");
  });

  it("the ServiceMonitor scrapes METRICS_PATH on the http port", () => {
    const sm = find(helmFull, "ServiceMonitor") as any;
    expect(sm.spec.endpoints).toEqual([expect.objectContaining({ port: "http", path: METRICS_PATH })]);
  });

  it("a non-default service.port moves HEALTH_PORT, the container port and the Service together", () => {
    const objects = helmTemplate([...MINIMAL, "--set", "service.port=9090"]);
    const dep = find(objects, "Deployment") as any;
    expect(configMapData(objects).HEALTH_PORT).toBe("9090");
    expect(dep.spec.template.spec.containers[0].ports[0].containerPort).toBe(9090);
    expect((find(objects, "Service") as any).spec.ports[0].port).toBe(9090);
  });
});

describe("metrics: alerts and dashboard use names the service exports", () => {
  async function exported(): Promise<{ names: Set<string>; histograms: Set<string> }> {
    const metrics = createMetrics("t", "24");
    const json = await metrics.registry.getMetricsAsJSON();
    return {
      names: new Set(json.map((m) => m.name)),
      histograms: new Set(json.filter((m) => String(m.type) === "histogram").map((m) => m.name)),
    };
  }

  function used(text: string): Set<string> {
    return new Set([...text.matchAll(/\bsqs_archiver_[a-z0-9_]+/g)].map((m) => m[0]));
  }

  function unknown(names: Set<string>, ex: { names: Set<string>; histograms: Set<string> }): string[] {
    return [...names].filter((n) => {
      if (ex.names.has(n)) return false;
      const base = n.replace(/_(bucket|sum|count)$/, "");
      return !(base !== n && ex.histograms.has(base));
    });
  }

  it("every sqs_archiver_* name in the PrometheusRule exists", async () => {
    const ex = await exported();
    const rule = find(helmFull, "PrometheusRule") as any;
    const exprs = rule.spec.groups.flatMap((g: any) => g.rules.map((r: any) => String(r.expr))).join("\n");
    const names = used(exprs);
    expect(names.size).toBeGreaterThanOrEqual(4);
    expect(unknown(names, ex)).toEqual([]);
  });

  it("every sqs_archiver_* name in the Grafana dashboard exists, and every service metric is on it", async () => {
    const ex = await exported();
    const dashboard = readFileSync(join(CHART, "dashboards/sqs-archiver.json"), "utf8");
    const names = used(dashboard);
    expect(unknown(names, ex)).toEqual([]);
    const onDashboard = new Set([...names].map((n) => (ex.names.has(n) ? n : n.replace(/_(bucket|sum|count)$/, ""))));
    const own = [...ex.names].filter((n) => n.startsWith("sqs_archiver_"));
    expect(own.filter((n) => !onDashboard.has(n))).toEqual([]);
  });

  it("every other metric on the dashboard is the service's default process metrics or a named exporter's", async () => {
    const ex = await exported();
    const dashboard = JSON.parse(readFileSync(join(CHART, "dashboards/sqs-archiver.json"), "utf8")) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join("\n");
    const metricNames = new Set([...exprs.matchAll(/\b([a-z_][a-z0-9_]*)\s*\{/g)].map((m) => m[1] as string));
    // cAdvisor (kubelet), kube-state-metrics and the CloudWatch exporter (YACE naming, as the alerts use).
    const external = /^(container_cpu_cfs_(throttled_)?periods_total|container_cpu_usage_seconds_total|container_memory_working_set_bytes|kube_pod_container_resource_(limits|requests)|aws_sqs_[a-z_]+)$/;
    const problems = [...metricNames].filter((n) => !n.startsWith("sqs_archiver_") && !ex.names.has(n) && !external.test(n));
    expect(problems).toEqual([]);
    for (const required of ["process_resident_memory_bytes", "kube_pod_container_resource_limits", "container_cpu_cfs_throttled_periods_total", "nodejs_eventloop_lag_p99_seconds", "aws_sqs_approximate_number_of_messages_visible_maximum", "aws_sqs_approximate_age_of_oldest_message_maximum"]) {
      expect(metricNames, required).toContain(required);
    }
  });
});

describe("IAM: the policy grants exactly what the code sends", () => {
  interface Statement {
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string>>;
  }
  const policy = (file: string) => JSON.parse(readFileSync(join(ROOT, "iam", file), "utf8")) as { Statement: Statement[] };
  const actions = (p: { Statement: Statement[] }) => p.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
  const resources = (p: { Statement: Statement[] }) => p.Statement.flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]));

  /** Commands the code constructs: src/ plus sqs-consumer, which sends receive/delete/visibility calls itself. */
  /**
   * The service's own code: src/ without src/cli/, src/replay/, src/compact/, src/verify/ and the archive readers
   * (operator tools such as `sqs-archiver replay`, `compact` and `verify`, which send ListObjectsV2/GetObject/
   * SendMessageBatch under their own policies: iam/policy-replay.json, iam/policy-compact.json, iam/policy-verify.json;
   * the service role must not need those).
   */
  const serviceSources = () =>
    readdirSync(join(ROOT, "src"), { recursive: true, encoding: "utf8" }).filter(
      (f) => f.endsWith(".ts") && !/^(cli|replay|compact|verify)[\\/]/.test(f) && !/^archive[\\/](read|compacted-read)\.ts$/.test(f),
    );

  function commandsSent(): { sqs: Set<string>; s3: Set<string> } {
    const sqs = new Set<string>();
    const s3 = new Set<string>();
    const srcFiles = serviceSources();
    for (const f of srcFiles) {
      const text = readFileSync(join(ROOT, "src", f), "utf8");
      for (const m of text.matchAll(/import\s*{([^}]*)}\s*from\s*"@aws-sdk\/client-(sqs|s3)"/g)) {
        for (const raw of (m[1] as string).split(",")) {
          const name = raw.trim();
          if (!name || name.startsWith("type ") || !name.endsWith("Command")) continue;
          (m[2] === "sqs" ? sqs : s3).add(name.replace(/Command$/, ""));
        }
      }
    }
    const consumerDir = join(ROOT, "node_modules/sqs-consumer/dist/esm");
    for (const f of readdirSync(consumerDir, { recursive: true, encoding: "utf8" }).filter((x) => x.endsWith(".js"))) {
      for (const m of readFileSync(join(consumerDir, f), "utf8").matchAll(/new (\w+)Command\(/g)) sqs.add(m[1] as string);
    }
    return { sqs, s3 };
  }

  /** Batch APIs use the single-message action; HeadBucket is authorised by s3:ListBucket (on the bucket ARN). */
  const toAction = (service: string, command: string) =>
    service === "s3" && command === "HeadBucket" ? "s3:ListBucket" : `${service}:${command.replace(/Batch$/, "")}`;

  it("policy.json grants exactly IAM_ACTIONS", () => {
    expect(actions(policy("policy.json")).sort()).toEqual([...IAM_ACTIONS].sort());
  });

  it("policy-sse-kms.json grants exactly IAM_ACTIONS plus KMS_ACTIONS, KMS only through S3", () => {
    const p = policy("policy-sse-kms.json");
    expect(actions(p).sort()).toEqual([...IAM_ACTIONS, ...KMS_ACTIONS].sort());
    const kms = p.Statement.find((s) => actions({ Statement: [s] }).some((a) => a.startsWith("kms:")));
    // S3 calls KMS in the bucket's region (S3_REGION), which need not be the queue's.
    expect(kms?.Condition?.StringEquals?.["kms:ViaService"]).toBe("s3.${S3_REGION}.amazonaws.com");
    expect(kms?.Resource).toBe("${KMS_KEY_ARN}");
  });

  it("every SDK command the code sends is covered by an action, and every action is used", () => {
    const sent = commandsSent();
    const needed = new Set([...[...sent.sqs].map((c) => toAction("sqs", c)), ...[...sent.s3].map((c) => toAction("s3", c))]);
    expect([...needed].filter((a) => !(IAM_ACTIONS as readonly string[]).includes(a))).toEqual([]);
    const contract = new Set([...SQS_COMMANDS.map((c) => toAction("sqs", c)), ...S3_COMMANDS.map((c) => toAction("s3", c))]);
    expect([...IAM_ACTIONS].filter((a) => !contract.has(a))).toEqual([]);
    for (const c of sent.s3) expect(S3_COMMANDS as readonly string[]).toContain(c);
  });

  it("the source scan skips operator tools (src/cli, src/replay) but sees the service's own modules", () => {
    const files = serviceSources();
    expect(files.some((f) => f.startsWith("cli"))).toBe(false);
    expect(files.some((f) => f.startsWith("replay"))).toBe(false);
    expect(files).toContain(join("sinks", "s3-writer.ts"));
    expect(commandsSent().s3).toContain("PutObject");
  });

  it("KMS: GenerateDataKey only; no kms:Encrypt (S3 never calls it); kms:Decrypt only if the service uploads multipart", () => {
    expect(KMS_ACTIONS).toContain("kms:GenerateDataKey");
    expect(KMS_ACTIONS as readonly string[]).not.toContain("kms:Encrypt");
    const text = serviceSources().map((f) => readFileSync(join(ROOT, "src", f), "utf8")).join("\n");
    const multipart = /CreateMultipartUploadCommand|UploadPartCommand|@aws-sdk\/lib-storage/.test(text);
    // Completing a multipart upload with SSE-KMS makes S3 decrypt the data key with the caller's rights.
    expect((KMS_ACTIONS as readonly string[]).includes("kms:Decrypt")).toBe(multipart);
  });

  it("s3:ListBucket (for the HeadBucket preflight) is granted on the bucket ARN only, never on objects", () => {
    for (const file of ["policy.json", "policy-sse-kms.json"]) {
      const p = policy(file);
      const list = p.Statement.filter((s) => actions({ Statement: [s] }).includes("s3:ListBucket"));
      expect(list, file).toHaveLength(1);
      expect(actions({ Statement: list })).toEqual(["s3:ListBucket"]);
      expect(list[0]?.Resource).toBe("arn:${AWS_PARTITION}:s3:::${S3_BUCKET_NAME}");
      for (const forbidden of ["s3:GetObject", "s3:DeleteObject", "sqs:SendMessage", "kms:Encrypt", "kms:Decrypt"]) {
        expect(actions(p), `${file} ${forbidden}`).not.toContain(forbidden);
      }
    }
  });

  it("the KEDA scaler role gets sqs:GetQueueAttributes on the one queue, trusting only the KEDA operator's role", () => {
    const p = policy("keda-policy.json");
    expect(actions(p)).toEqual(["sqs:GetQueueAttributes"]);
    expect(resources(p)).toEqual(["arn:${AWS_PARTITION}:sqs:${AWS_REGION}:${AWS_ACCOUNT_ID}:${SQS_QUEUE_NAME}"]);
    const t = policy("keda-trust-policy.json") as any;
    expect(t.Statement).toHaveLength(1);
    expect(t.Statement[0].Principal).toEqual({ AWS: "arn:${AWS_PARTITION}:iam::${KEDA_ACCOUNT_ID}:role/${KEDA_OPERATOR_ROLE_NAME}" });
    expect(t.Statement[0].Action).toContain("sts:AssumeRole");
  });

  it("scopes resources to the one queue and the bucket prefix, with no wildcards in actions", () => {
    for (const file of ["policy.json", "policy-sse-kms.json"]) {
      const p = policy(file);
      expect(actions(p).filter((a) => a.includes("*"))).toEqual([]);
      expect(resources(p)).not.toContain("*");
      expect(p.Statement.every((s) => s.Effect === "Allow")).toBe(true);
      const sqs = p.Statement.find((s) => actions({ Statement: [s] }).some((a) => a.startsWith("sqs:")));
      expect(sqs?.Resource).toBe("arn:${AWS_PARTITION}:sqs:${AWS_REGION}:${AWS_ACCOUNT_ID}:${SQS_QUEUE_NAME}");
      const s3 = p.Statement.find((s) => actions({ Statement: [s] }).includes("s3:PutObject"));
      expect(s3?.Resource).toBe("arn:${AWS_PARTITION}:s3:::${S3_BUCKET_NAME}/${S3_PREFIX}*");
      expect(actions(p)).not.toContain("s3:PutObjectAcl");
    }
  });

  it("the IRSA trust policy pins the service account and the audience", () => {
    const t = policy("trust-policy-irsa.json") as any;
    expect(t.Statement).toHaveLength(1);
    const s = t.Statement[0];
    expect(s.Action).toBe("sts:AssumeRoleWithWebIdentity");
    expect(s.Principal.Federated).toBe("arn:${AWS_PARTITION}:iam::${AWS_ACCOUNT_ID}:oidc-provider/${OIDC_PROVIDER}");
    expect(s.Condition.StringEquals).toEqual({
      "${OIDC_PROVIDER}:sub": "system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}",
      "${OIDC_PROVIDER}:aud": "sts.amazonaws.com",
    });
  });

  it("the Pod Identity trust policy trusts EKS pods, limited to one cluster, namespace and service account", () => {
    const t = policy("trust-policy-pod-identity.json") as any;
    const s = t.Statement[0];
    expect(s.Principal).toEqual({ Service: "pods.eks.amazonaws.com" });
    expect([...s.Action].sort()).toEqual(["sts:AssumeRole", "sts:TagSession"]);
    expect(s.Condition.StringEquals).toMatchObject({
      "aws:RequestTag/kubernetes-namespace": "${NAMESPACE}",
      "aws:RequestTag/kubernetes-service-account": "${SERVICE_ACCOUNT}",
    });
  });

  it("the README explains every file and cites only files that exist", () => {
    const readme = readFileSync(join(ROOT, "iam/README.md"), "utf8");
    for (const f of readdirSync(join(ROOT, "iam")).filter((x) => x.endsWith(".json"))) expect(readme, f).toContain(f);
    const cited = [...readme.matchAll(/`((?:src|test|infra|iam|docs|helm|k8s)\/[^`\s]+)`/g)].map((m) => m[1] as string);
    expect(cited.length).toBeGreaterThan(0);
    expect(cited.filter((c) => !existsSync(join(ROOT, c)))).toEqual([]);
  });
});
