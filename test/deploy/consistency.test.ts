import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMAND_ACTIONS, IAM_ACTIONS, KMS_ACTIONS, S3_COMMANDS, SQS_COMMANDS } from "../../src/aws/aws-actions.js";
import { SERVICE_ENV_VARS, loadConfig } from "../../src/config.js";
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
  ] as Array<[string, K8sObject[]]>)("%s Service carries the Prometheus scrape annotations", (_name, objects) => {
    const svc = find(objects, "Service");
    expect(svc.metadata.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(DEFAULT_HEALTH_PORT),
      "prometheus.io/path": METRICS_PATH,
    });
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
  function commandsSent(): { sqs: Set<string>; s3: Set<string> } {
    const sqs = new Set<string>();
    const s3 = new Set<string>();
    const srcFiles = readdirSync(join(ROOT, "src"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
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

  const toAction = (service: string, command: string) => {
    const direct = `${service}:${command}`;
    return COMMAND_ACTIONS[direct] ?? `${service}:${command.replace(/Batch$/, "")}`;
  };

  it("policy.json grants exactly IAM_ACTIONS", () => {
    expect(actions(policy("policy.json")).sort()).toEqual([...IAM_ACTIONS].sort());
  });

  it("policy-sse-kms.json grants exactly IAM_ACTIONS plus KMS_ACTIONS, KMS only through S3", () => {
    const p = policy("policy-sse-kms.json");
    expect(actions(p).sort()).toEqual([...IAM_ACTIONS, ...KMS_ACTIONS].sort());
    const kms = p.Statement.find((s) => actions({ Statement: [s] }).some((a) => a.startsWith("kms:")));
    expect(kms?.Condition?.StringEquals?.["kms:ViaService"]).toBe("s3.${AWS_REGION}.amazonaws.com");
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

  it("the README explains the files", () => {
    const readme = readFileSync(join(ROOT, "iam/README.md"), "utf8");
    for (const f of ["policy.json", "policy-sse-kms.json", "trust-policy-irsa.json", "trust-policy-pod-identity.json"]) expect(readme).toContain(f);
  });
});
