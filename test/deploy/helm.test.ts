import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  CHART,
  ROOT,
  ensureTools,
  find,
  helmNotes,
  helmTemplate,
  kinds,
  parseYamlDocs,
  podSpecOf,
  restrictedPssProblems,
  run,
  runOk,
  validateAll,
  type K8sObject,
} from "./helpers.js";

const DEFAULT_VALUES = join(CHART, "ci/default-values.yaml");
const FULL_VALUES = join(CHART, "ci/full-values.yaml");
const ENVIRONMENTS = ["dev", "staging", "production"].map((e) => join(ROOT, "helm/environments", `${e}.yaml`));

describe("helm chart helm/sqs-archiver", () => {
  it("passes helm lint --strict with the chart defaults, the CI values files and every environment", () => {
    const { helm } = ensureTools();
    runOk(helm, ["lint", "--strict", CHART]);
    for (const values of [DEFAULT_VALUES, FULL_VALUES, ...ENVIRONMENTS]) {
      const out = runOk(helm, ["lint", "--strict", CHART, "-f", values]);
      expect(out, values).toContain("0 chart(s) failed");
    }
  });

  it("has Chart.yaml apiVersion v2 and appVersion equal to package.json version", () => {
    const chart = parseYaml(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as Record<string, unknown>;
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(chart.apiVersion).toBe("v2");
    expect(chart.name).toBe("sqs-archiver");
    expect(chart.appVersion).toBe(pkg.version);
  });

  it("documents every value in values.yaml with @param", () => {
    const text = readFileSync(join(CHART, "values.yaml"), "utf8");
    const documented = new Set([...text.matchAll(/@param\s+(\S+)/g)].map((m) => m[1]));
    const values = parseYaml(text) as Record<string, unknown>;
    const leaves: string[] = [];
    const walk = (v: unknown, path: string): void => {
      if (documented.has(path)) return;
      if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0) {
        for (const [k, child] of Object.entries(v)) walk(child, path ? `${path}.${k}` : k);
      } else {
        leaves.push(path);
      }
    };
    walk(values, "");
    expect(leaves, "values without an @param comment").toEqual([]);
  });

  it("has a strict values.schema.json (additionalProperties false on every object with properties)", () => {
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as Record<string, unknown>;
    const loose: string[] = [];
    const walk = (node: any, path: string): void => {
      if (!node || typeof node !== "object") return;
      if (node.properties) {
        if (node.additionalProperties !== false) loose.push(path || "(root)");
        for (const [k, child] of Object.entries(node.properties)) walk(child, `${path}.${k}`);
      }
    };
    walk(schema, "");
    expect(loose).toEqual([]);
  });

  it("schema rejects bad values, unknown keys and a missing queue URL with clear errors", () => {
    const { helm } = ensureTools();
    const tpl = (...args: string[]) => run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, ...args]);

    const badType = tpl("--set", "config.waitTimeSeconds=25");
    expect(badType.code).not.toBe(0);
    expect(badType.stderr).toMatch(/waitTimeSeconds/);

    const badEnum = tpl("--set", "config.s3Sse=rot13");
    expect(badEnum.code).not.toBe(0);
    expect(badEnum.stderr).toMatch(/s3Sse/);

    const typo = tpl("--set", "config.queueUrl=https://sqs.eu-west-1.amazonaws.com/123456789012/q");
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toMatch(/queueUrl/);

    const bucketArn = tpl("--set", "config.s3BucketName=arn:aws:s3:::bucket");
    expect(bucketArn.code).not.toBe(0);
    expect(bucketArn.stderr).toMatch(/s3BucketName/);

    const rootUser = tpl("--set", "securityContext.allowPrivilegeEscalation=true");
    expect(rootUser.code).not.toBe(0);

    const missing = run(helm, ["template", "x", CHART]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("config.sqsQueueUrl is required");

    const shortGrace = tpl("--set", "terminationGracePeriodSeconds=30");
    expect(shortGrace.code).not.toBe(0);
    expect(shortGrace.stderr).toMatch(/terminationGracePeriodSeconds/);

    const kmsWithoutSse = tpl("--set", "config.s3KmsKeyId=alias/x");
    expect(kmsWithoutSse.code).not.toBe(0);
    expect(kmsWithoutSse.stderr).toMatch(/s3KmsKeyId is only allowed/);
  });

  describe("rendered with the minimal values", () => {
    const objects = helmTemplate(["-f", DEFAULT_VALUES]);

    it("renders exactly the core objects", () => {
      expect(kinds(objects)).toEqual(["ConfigMap", "Deployment", "Service", "ServiceAccount"]);
    });

    it("validates every object against the Kubernetes schemas", async () => {
      await validateAll(objects);
    });

    it("runs one replica with a surge-only rolling update and restricted pod security", () => {
      const dep = find(objects, "Deployment") as any;
      expect(dep.spec.replicas).toBe(1);
      expect(dep.spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
      expect(restrictedPssProblems(podSpecOf(dep), "Deployment")).toEqual([]);
      const pod = podSpecOf(dep) as any;
      expect(pod.containers[0].volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
      expect(pod.volumes).toContainEqual(expect.objectContaining({ name: "tmp", emptyDir: expect.any(Object) }));
      expect(pod.containers[0].resources.requests).toBeDefined();
      expect(pod.containers[0].resources.limits.memory).toBeDefined();
      expect(pod.containers[0].image).toBe("sqs-archiver:1.0.0");
    });

    it("annotates the ServiceAccount for IRSA", () => {
      const sa = find(objects, "ServiceAccount");
      expect(sa.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toBe("arn:aws:iam::123456789012:role/sqs-archiver");
      expect(sa.automountServiceAccountToken).toBe(false);
      const dep = find(objects, "Deployment") as any;
      expect(dep.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    });

    it("uses helm create's labels and selectors", () => {
      const dep = find(objects, "Deployment") as any;
      expect(dep.metadata.labels).toMatchObject({
        "helm.sh/chart": "sqs-archiver-1.0.0",
        "app.kubernetes.io/name": "sqs-archiver",
        "app.kubernetes.io/instance": "sqs-archiver",
        "app.kubernetes.io/managed-by": "Helm",
      });
      expect(dep.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "sqs-archiver", "app.kubernetes.io/instance": "sqs-archiver" });
      const svc = find(objects, "Service") as any;
      expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
      expect(svc.metadata.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/path": "/metrics" });
    });

    it("names resources <release>-sqs-archiver unless the release name contains the chart name", () => {
      const other = helmTemplate(["-f", DEFAULT_VALUES], "orders");
      expect(find(other, "Deployment").metadata.name).toBe("orders-sqs-archiver");
    });
  });

  describe("rendered with every optional feature on", () => {
    const objects = helmTemplate(["-f", FULL_VALUES]);

    it("renders the optional objects", () => {
      expect(kinds(objects)).toEqual([
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PrometheusRule",
        "ScaledObject",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "TriggerAuthentication",
      ]);
    });

    it("validates every object, CRDs included", async () => {
      await validateAll(objects);
    });

    it("omits Deployment replicas when KEDA scales it", () => {
      const dep = find(objects, "Deployment") as any;
      expect(dep.spec).not.toHaveProperty("replicas");
      expect(restrictedPssProblems(podSpecOf(dep), "Deployment")).toEqual([]);
    });

    it("scales on queue depth with an aws-sqs-queue trigger and pod-identity authentication", () => {
      const so = find(objects, "ScaledObject") as any;
      const ta = find(objects, "TriggerAuthentication") as any;
      const dep = find(objects, "Deployment");
      expect(so.spec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: dep.metadata.name });
      expect(so.spec.triggers).toHaveLength(1);
      expect(so.spec.triggers[0]).toMatchObject({
        type: "aws-sqs-queue",
        authenticationRef: { name: ta.metadata.name },
        metadata: { queueURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/orders", awsRegion: "eu-west-1", queueLength: "1000" },
      });
      expect(ta.spec.podIdentity).toEqual({ provider: "aws", roleArn: "arn:aws:iam::123456789012:role/keda-operator-sqs" });
    });

    it("derives the KEDA region from the queue URL when config.awsRegion is empty", () => {
      const objs = helmTemplate(["-f", DEFAULT_VALUES, "--set", "keda.enabled=true,keda.identityOwner=workload"]);
      const so = find(objs, "ScaledObject") as any;
      expect(so.spec.triggers[0].metadata.awsRegion).toBe("eu-west-1");
      expect(find(objs, "TriggerAuthentication").spec).toEqual({ podIdentity: { provider: "aws", identityOwner: "workload" } });
    });

    it("ships the Grafana dashboard in a ConfigMap with the sidecar label", () => {
      const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name.endsWith("-dashboard")) as K8sObject & {
        data: Record<string, string>;
      };
      expect(cm.metadata.labels?.grafana_dashboard).toBe("1");
      const dashboard = JSON.parse(cm.data["sqs-archiver.json"] as string) as { panels: unknown[]; uid: string };
      expect(dashboard.uid).toBe("sqs-archiver");
      expect(dashboard.panels.length).toBeGreaterThan(5);
    });

    it("has the alerts the issue asks for, DLQ included", () => {
      const rule = find(objects, "PrometheusRule") as any;
      const alerts = rule.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert));
      expect(alerts).toEqual(
        expect.arrayContaining([
          "SqsArchiverNoSuccessfulPoll",
          "SqsArchiverFailuresRising",
          "SqsArchiverMessageAgeHigh",
          "SqsArchiverDeadLetterQueueNotEmpty",
        ]),
      );
      const withoutDlq = find(helmTemplate(["-f", DEFAULT_VALUES, "--set", "prometheusRule.enabled=true"]), "PrometheusRule") as any;
      const names = withoutDlq.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert));
      expect(names).not.toContain("SqsArchiverDeadLetterQueueNotEmpty");
    });

    it("limits egress to DNS and HTTPS (plus the Pod Identity agent when asked)", () => {
      const np = find(objects, "NetworkPolicy") as any;
      expect(np.spec.policyTypes).toEqual(["Ingress", "Egress"]);
      const ports = np.spec.egress.flatMap((r: any) => r.ports.map((p: any) => `${p.protocol}/${p.port}`)).sort();
      expect(ports).toEqual(["TCP/443", "TCP/53", "TCP/80", "UDP/53"]);
      expect(np.spec.egress.find((r: any) => r.ports[0].port === 80).to).toEqual([{ ipBlock: { cidr: "169.254.170.23/32" } }]);
    });

    it("pins the image by digest", () => {
      const dep = find(objects, "Deployment") as any;
      expect(dep.spec.template.spec.containers[0].image).toMatch(/sqs-archiver:0123456789ab@sha256:0{64}$/);
    });
  });

  it("renders every environment's values into valid objects", async () => {
    for (const values of ENVIRONMENTS) {
      const objects = helmTemplate(["-f", values, "--set-string", "image.tag=abc"]);
      await validateAll(objects);
      expect(restrictedPssProblems(podSpecOf(find(objects, "Deployment")), values)).toEqual([]);
    }
  });

  it("renders the helm test pod under the restricted profile", async () => {
    const { helm } = ensureTools();
    const out = runOk(helm, ["template", "sqs-archiver", CHART, "-f", DEFAULT_VALUES, "--show-only", "templates/tests/test-connection.yaml"]);
    const [pod] = parseYamlDocs(out);
    expect(pod?.kind).toBe("Pod");
    await validateAll([pod as K8sObject]);
    expect(restrictedPssProblems((pod as any).spec, "test pod")).toEqual([]);
  });

  it("NOTES.txt tells how to send a test message and where its archive lands", () => {
    const notes = helmNotes(["-f", DEFAULT_VALUES], "sqs-archiver", "ops");
    expect(notes).toContain("aws sqs send-message --region eu-west-1");
    expect(notes).toContain("--queue-url https://sqs.eu-west-1.amazonaws.com/123456789012/orders");
    expect(notes).toContain("s3://example-sqs-archive/sqs-messages/YYYY/MM/DD/HH/<MessageId>.json");
    expect(notes).toContain("kubectl -n ops rollout status deployment/sqs-archiver");
    expect(notes).not.toContain("roleArn is empty");
    const noRole = helmNotes(["-f", DEFAULT_VALUES, "--set", "serviceAccount.roleArn=,config.s3Prefix=archive/"]);
    expect(noRole).toContain("serviceAccount.roleArn is empty");
    expect(noRole).toContain("s3://example-sqs-archive/archive/YYYY/MM/DD/HH/<MessageId>.json");
  });
});
