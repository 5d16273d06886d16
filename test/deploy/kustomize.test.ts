import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { K8S, ROOT, find, kinds, kustomize, podSpecOf, restrictedPssProblems, validateAll } from "./helpers.js";

describe("kustomize base k8s/", () => {
  const objects = kustomize(K8S);

  it("renders the base objects", () => {
    expect(kinds(objects)).toEqual(["ConfigMap", "Deployment", "Namespace", "Service", "ServiceAccount"]);
    for (const o of objects.filter((x) => x.kind !== "Namespace")) expect(o.metadata.namespace, o.kind).toBe("sqs-archiver");
  });

  it("validates every object against the Kubernetes schemas", async () => {
    await validateAll(objects);
  });

  it("has no PodDisruptionBudget that could block node drains (one replica)", () => {
    expect(objects.filter((o) => o.kind === "PodDisruptionBudget")).toEqual([]);
  });

  it("runs one replica with a surge-only rolling update and the restricted Pod Security Standard", () => {
    const dep = find(objects, "Deployment") as any;
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    expect(restrictedPssProblems(podSpecOf(dep), "Deployment")).toEqual([]);
    const pod = dep.spec.template.spec;
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
    expect(pod.volumes).toContainEqual(expect.objectContaining({ name: "tmp", emptyDir: expect.any(Object) }));
    expect(pod.containers[0].resources.requests).toBeDefined();
    expect(pod.containers[0].resources.limits).toBeDefined();
    expect(find(objects, "Namespace").metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("annotates the ServiceAccount for IRSA and uses it without an API token", () => {
    const sa = find(objects, "ServiceAccount");
    expect(sa.metadata.annotations?.["eks.amazonaws.com/role-arn"]).toMatch(/^arn:aws:iam::\d{12}:role\//);
    const dep = find(objects, "Deployment") as any;
    expect(dep.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    expect(dep.spec.template.spec.automountServiceAccountToken).toBe(false);
  });

  it("wires the generated ConfigMap (hash-suffixed name) into the Deployment", () => {
    const cm = find(objects, "ConfigMap");
    expect(cm.metadata.name).toMatch(/^sqs-archiver-[a-z0-9]{10}$/);
    const dep = find(objects, "Deployment") as any;
    expect(dep.spec.template.spec.containers[0].envFrom).toEqual([{ configMapRef: { name: cm.metadata.name } }]);
  });

  it("keeps the base image tag at the package version", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const dep = find(objects, "Deployment") as any;
    expect(dep.spec.template.spec.containers[0].image).toBe(`sqs-archiver:${pkg.version}`);
  });

  describe("as the base of an overlay with the NetworkPolicy component", () => {
    // Overlays must live outside the base folder (kustomize rejects a root that contains a visited root).
    const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-overlay-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const base = relative(dir, K8S);
    writeFileSync(
      join(dir, "kustomization.yaml"),
      [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "namespace: archive-prod",
        "resources:",
        `  - ${base}`,
        "components:",
        `  - ${base}/components/networkpolicy`,
        "images:",
        "  - name: sqs-archiver",
        "    newName: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/sqs-archiver",
        '    newTag: "0123456789ab"',
        "configMapGenerator:",
        "  - name: sqs-archiver",
        "    behavior: merge",
        "    literals:",
        "      - SQS_QUEUE_URL=https://sqs.eu-west-1.amazonaws.com/123456789012/orders",
        "      - S3_BUCKET_NAME=acme-orders-archive",
        "",
      ].join("\n"),
    );
    const overlay = kustomize(dir);

    it("renders and validates, NetworkPolicy included", async () => {
      expect(kinds(overlay)).toEqual(["ConfigMap", "Deployment", "Namespace", "NetworkPolicy", "Service", "ServiceAccount"]);
      await validateAll(overlay);
      expect(find(overlay, "Namespace").metadata.name).toBe("archive-prod");
    });

    it("applies the overlay's image and settings", () => {
      const dep = find(overlay, "Deployment") as any;
      expect(dep.spec.template.spec.containers[0].image).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com/sqs-archiver:0123456789ab");
      const cm = find(overlay, "ConfigMap") as any;
      expect(cm.data.SQS_QUEUE_URL).toBe("https://sqs.eu-west-1.amazonaws.com/123456789012/orders");
      expect(dep.spec.template.spec.containers[0].envFrom[0].configMapRef.name).toBe(cm.metadata.name);
    });

    it("allows only DNS, HTTPS and the EKS Pod Identity agent (IPv4 and IPv6) and selects the archiver pods", () => {
      const np = find(overlay, "NetworkPolicy") as any;
      const dep = find(overlay, "Deployment") as any;
      expect(np.spec.podSelector.matchLabels).toEqual(dep.spec.selector.matchLabels);
      expect(np.spec.policyTypes).toEqual(["Ingress", "Egress"]);
      const ports = np.spec.egress.flatMap((r: any) => r.ports.map((p: any) => `${p.protocol}/${p.port}`)).sort();
      expect(ports).toEqual(["TCP/443", "TCP/53", "TCP/80", "UDP/53"]);
      // The ServiceAccount offers Pod Identity (drop the IRSA annotation): the agent must be reachable.
      expect(np.spec.egress.find((r: any) => r.ports[0].port === 80).to).toEqual([
        { ipBlock: { cidr: "169.254.170.23/32" } },
        { ipBlock: { cidr: "fd00:ec2::23/128" } },
      ]);
      expect(np.spec.ingress).toEqual([{ ports: [{ port: "http", protocol: "TCP" }] }]);
    });
  });

  it("documents the component in the base kustomization", () => {
    const text = readFileSync(join(K8S, "kustomization.yaml"), "utf8");
    expect(text).toContain("components/networkpolicy");
    const k = parseYaml(text) as { resources: string[] };
    expect(k.resources).not.toContain("components/networkpolicy");
  });
});
