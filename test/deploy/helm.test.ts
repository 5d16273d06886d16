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
        "helm.sh/chart": "sqs-archiver-2.1.0",
        "app.kubernetes.io/name": "sqs-archiver",
        "app.kubernetes.io/instance": "sqs-archiver",
        "app.kubernetes.io/managed-by": "Helm",
      });
      expect(dep.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "sqs-archiver", "app.kubernetes.io/instance": "sqs-archiver" });
      const svc = find(objects, "Service") as any;
      expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
      expect(dep.spec.template.metadata.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/path": "/metrics" });
      expect(svc.metadata.annotations ?? {}).not.toHaveProperty("prometheus.io/scrape");
    });

    it("names resources <release>-sqs-archiver unless the release name contains the chart name", () => {
      const other = helmTemplate(["-f", DEFAULT_VALUES], "orders");
      expect(find(other, "Deployment").metadata.name).toBe("orders-sqs-archiver");
    });
  });

  describe("rendered with every optional feature on", () => {
    const objects = helmTemplate(["-f", FULL_VALUES]);

    it("renders the optional objects (a PodDisruptionBudget too: KEDA may scale out to five)", () => {
      expect(kinds(objects)).toEqual([
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "NetworkPolicy",
        "PodDisruptionBudget",
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
      const dashboard = JSON.parse(cm.data["sqs-archiver-sqs-archiver.json"] as string) as { panels: unknown[]; uid: string };
      expect(dashboard.uid).toMatch(/^sqs-archiver-[0-9a-f]{12}$/);
      expect(dashboard.panels.length).toBeGreaterThan(5);
      // The chart's dashboard, unchanged but for its uid and title (numbers survive the JSON round trip).
      const source = JSON.parse(readFileSync(join(CHART, "dashboards/sqs-archiver.json"), "utf8")) as Record<string, unknown>;
      expect({ ...dashboard, uid: source.uid, title: source.title }).toEqual(source);
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

    it("limits egress to DNS, HTTPS and the EKS Pod Identity agent on IPv4 and IPv6", () => {
      const np = find(objects, "NetworkPolicy") as any;
      expect(np.spec.policyTypes).toEqual(["Ingress", "Egress"]);
      const ports = np.spec.egress.flatMap((r: any) => r.ports.map((p: any) => `${p.protocol}/${p.port}`)).sort();
      expect(ports).toEqual(["TCP/443", "TCP/53", "TCP/80", "UDP/53"]);
      expect(np.spec.egress.find((r: any) => r.ports[0].port === 80).to).toEqual([
        { ipBlock: { cidr: "169.254.170.23/32" } },
        { ipBlock: { cidr: "fd00:ec2::23/128" } },
      ]);
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

  describe("the helm test pod", () => {
    const { helm } = ensureTools();
    const render = (values: string[]) =>
      parseYamlDocs(runOk(helm, ["template", "sqs-archiver", CHART, ...values, "--show-only", "templates/tests/test-connection.yaml"]))[0] as any;
    const pod = render(["-f", FULL_VALUES]);
    const objects = helmTemplate(["-f", FULL_VALUES]);
    const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);

    it("is valid and runs under the restricted profile", async () => {
      expect(pod?.kind).toBe("Pod");
      await validateAll([pod as K8sObject]);
      expect(restrictedPssProblems(pod.spec, "test pod")).toEqual([]);
      expect(render(["-f", DEFAULT_VALUES]).kind).toBe("Pod");
    });

    it("is selected by neither the Service nor the NetworkPolicy (whose egress would block its requests)", () => {
      const labels = pod.metadata.labels as Record<string, string>;
      const svc = find(objects, "Service") as any;
      const np = find(objects, "NetworkPolicy") as any;
      expect(matches(svc.spec.selector, labels)).toBe(false);
      expect(matches(np.spec.podSelector.matchLabels, labels)).toBe(false);
      expect(labels["app.kubernetes.io/instance"]).toBe("sqs-archiver");
    });

    it("is admitted by the NetworkPolicy ingress when ingressFrom restricts it", () => {
      const np = find(objects, "NetworkPolicy") as any;
      const labels = pod.metadata.labels as Record<string, string>;
      const peers = np.spec.ingress.flatMap((r: any) => r.from ?? []);
      expect(peers.length).toBeGreaterThan(1);
      expect(peers.some((p: any) => p.podSelector && !p.namespaceSelector && matches(p.podSelector.matchLabels, labels))).toBe(true);
    });

    it("has memory headroom over what node + fetch peaks at (~60 MiB)", () => {
      const limit = String(pod.spec.containers[0].resources.limits.memory);
      expect(limit).toMatch(/^\d+Mi$/);
      expect(Number.parseInt(limit, 10)).toBeGreaterThanOrEqual(128);
    });
  });

  describe("resources", () => {
    it("a null CPU limit removes it; an empty string is rejected by the schema (it is not a quantity)", async () => {
      const objs = helmTemplate(["-f", DEFAULT_VALUES, "--set", "resources.limits.cpu=null"]);
      await validateAll(objs);
      const limits = (find(objs, "Deployment") as any).spec.template.spec.containers[0].resources.limits;
      expect(limits).not.toHaveProperty("cpu");
      expect(limits.memory).toBe("512Mi");
      const { helm } = ensureTools();
      for (const bad of ["resources.limits.cpu=", "resources.requests.memory=", "resources.limits.memory="]) {
        const r = run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set-string", bad]);
        expect(r.code, bad).not.toBe(0);
        expect(r.stderr, bad).toMatch(/resources/);
      }
    });

    it("the documented default is 512Mi limit / 256Mi request with bench/RESULTS.md as the source", () => {
      const dep = find(helmTemplate(["-f", DEFAULT_VALUES]), "Deployment") as any;
      expect(dep.spec.template.spec.containers[0].resources).toEqual({
        requests: { cpu: "500m", memory: "256Mi" },
        limits: { cpu: "1", memory: "512Mi" },
      });
      const values = readFileSync(join(CHART, "values.yaml"), "utf8");
      expect(values).toMatch(/resources\.limits\.cpu \[nullable\]/);
      expect(values).toContain("bench/RESULTS.md");
      expect(values).not.toMatch(/empty string: none/);
    });
  });

  describe("PodDisruptionBudget", () => {
    const pdbOf = (args: string[]) => helmTemplate(["-f", DEFAULT_VALUES, ...args]).filter((o) => o.kind === "PodDisruptionBudget");

    it("is absent when at most one replica can run (nothing to protect)", () => {
      expect(pdbOf([])).toEqual([]);
      expect(pdbOf(["--set", "keda.enabled=true,keda.minReplicaCount=1,keda.maxReplicaCount=1,replicaCount=3"])).toEqual([]);
      expect(pdbOf(["--set", "keda.enabled=true,keda.minReplicaCount=0,keda.maxReplicaCount=1"])).toEqual([]);
    });

    it("protects all but one pod whenever two or more can run (replicaCount, or KEDA's maximum, item 8)", async () => {
      for (const args of [
        ["--set", "replicaCount=2"],
        ["--set", "keda.enabled=true,keda.minReplicaCount=2"],
        ["--set", "keda.enabled=true,keda.minReplicaCount=1,keda.maxReplicaCount=2"],
        ["--set", "keda.enabled=true,keda.minReplicaCount=0"],
      ]) {
        const [pdb] = pdbOf(args) as any[];
        expect(pdb, args.join(" ")).toBeDefined();
        await validateAll([pdb]);
        expect(pdb.spec.maxUnavailable).toBe(1);
        expect(pdb.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "sqs-archiver", "app.kubernetes.io/instance": "sqs-archiver" });
      }
      expect(pdbOf(["--set", "replicaCount=2,pdb.create=false"])).toEqual([]);
      const prod = helmTemplate(["-f", join(ROOT, "helm/environments/production.yaml"), "--set-string", "image.tag=abc"]);
      expect(kinds(prod)).toContain("PodDisruptionBudget");
    });
  });

  describe("KEDA identity", () => {
    const ta = (args: string[]) => find(helmTemplate(["-f", DEFAULT_VALUES, "--set", "keda.enabled=true", ...args]), "TriggerAuthentication") as any;

    it("defaults to the KEDA operator's identity (works with IRSA and EKS Pod Identity), provider aws", () => {
      expect(ta([]).spec.podIdentity).toEqual({ provider: "aws", identityOwner: "keda" });
      expect(ta(["--set", "keda.roleArn=arn:aws:iam::123456789012:role/keda-sqs"]).spec.podIdentity).toEqual({
        provider: "aws",
        roleArn: "arn:aws:iam::123456789012:role/keda-sqs",
      });
    });

    it("refuses identityOwner workload without the IRSA role it depends on, or together with roleArn", () => {
      const { helm } = ensureTools();
      const podIdentity = run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", "keda.enabled=true,keda.identityOwner=workload,serviceAccount.roleArn="]);
      expect(podIdentity.code).not.toBe(0);
      expect(podIdentity.stderr).toMatch(/Pod Identity/);
      const both = run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", "keda.enabled=true,keda.identityOwner=workload,keda.roleArn=arn:aws:iam::123456789012:role/k"]);
      expect(both.code).not.toBe(0);
      expect(both.stderr).toMatch(/mutually exclusive/);
      expect(ta(["--set", "keda.identityOwner=workload"]).spec.podIdentity).toEqual({ provider: "aws", identityOwner: "workload" });
    });
  });

  describe("batched (ndjson) mode", () => {
    const { helm } = ensureTools();
    const tpl = (...set: string[]) => run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", ["config.archiveFormat=ndjson", ...set].join(",")]);

    it("refuses a visibility timeout the service would refuse (<= batchMaxSeconds + 4 x s3RequestTimeoutSeconds)", () => {
      const low = tpl("config.visibilityTimeoutSeconds=180");
      expect(low.code).not.toBe(0);
      expect(low.stderr).toMatch(/visibilityTimeoutSeconds \(180\) must be more than .* \(180\)/);
      expect(tpl("config.visibilityTimeoutSeconds=181").code).toBe(0);
      expect(tpl("config.visibilityTimeoutSeconds=100,config.batchMaxSeconds=10,config.s3RequestTimeoutSeconds=20").code).toBe(0);
      // null leaves the choice to the service (sum + 30)
      expect(tpl().code).toBe(0);
      // message mode keeps the plain 2..43200 range
      expect(run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", "config.visibilityTimeoutSeconds=30"]).code).toBe(0);
    });

    it("keeps the drain long enough for the final flush and the grace period above long poll + drain", () => {
      const shortDrain = tpl("config.shutdownTimeoutSeconds=10");
      expect(shortDrain.code).not.toBe(0);
      expect(shortDrain.stderr).toMatch(/shutdownTimeoutSeconds \(10\) must be at least config.s3RequestTimeoutSeconds/);
      const grace = tpl("config.shutdownTimeoutSeconds=60");
      expect(grace.code).not.toBe(0);
      expect(grace.stderr).toMatch(/terminationGracePeriodSeconds/);
      expect(tpl("config.shutdownTimeoutSeconds=60", "terminationGracePeriodSeconds=90").code).toBe(0);
    });

    it("refuses a drain budget the service would refuse: shorter than waitTimeSeconds + min(5, a quarter of it)", () => {
      const set = (v: string) => run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", v]);
      const short = set("config.waitTimeSeconds=20,config.shutdownTimeoutSeconds=24,terminationGracePeriodSeconds=60");
      expect(short.code).not.toBe(0);
      expect(short.stderr).toMatch(/config.shutdownTimeoutSeconds \(24\) must leave config.waitTimeSeconds \(20\)/);
      expect(set("config.waitTimeSeconds=20,config.shutdownTimeoutSeconds=25,terminationGracePeriodSeconds=60").code).toBe(0);
    });

    it("schema rejects unknown formats and compressions", () => {
      expect(tpl("config.archiveCompression=brotli").code).not.toBe(0);
      expect(run(helm, ["template", "x", CHART, "-f", DEFAULT_VALUES, "--set", "config.archiveFormat=parquet"]).code).not.toBe(0);
    });
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
