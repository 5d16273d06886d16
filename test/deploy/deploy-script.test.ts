import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CHART, ROOT, ensureTools, find, kustomize, parseYamlDocs, requireSystemTool, run, runOk, validateAll } from "./helpers.js";

const SCRIPTS = [join(ROOT, "deploy.sh"), join(ROOT, "scripts/lib.sh"), join(ROOT, "scripts/smoke-test.sh"), join(ROOT, "scripts/ensure-namespace.sh")];
const QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders";
const BASH = requireBash();
const GIT_ENV = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" };

function requireBash(): string {
  const r = run("sh", ["-c", "command -v bash"]);
  return r.stdout.trim() || "/bin/bash";
}

/** Fake aws/kubectl/helm/docker that record any call and fail: a dry run must not call them at all. */
const sandbox = mkdtempSync(join(tmpdir(), "sqs-archiver-deploy-test-"));
afterAll(() => rmSync(sandbox, { recursive: true, force: true }));
const calls = join(sandbox, "calls.log");

/**
 * deploy.sh refuses to build a tree with uncommitted changes, so it runs from a committed copy of the files it reads
 * (the working copy's current versions): the result does not depend on whether this checkout is clean.
 */
const CHECKOUT = join(sandbox, "checkout");
function git(args: readonly string[], cwd = CHECKOUT): string {
  return runOk("git", args, { cwd, env: { ...process.env, ...GIT_ENV } });
}
for (const p of ["deploy.sh", "scripts", "Dockerfile", "package.json", "helm", "k8s", "iam", "infra"]) {
  cpSync(join(ROOT, p), join(CHECKOUT, p), { recursive: true });
}
git(["init", "--quiet"]);
git(["add", "--all"]);
git(["commit", "--quiet", "--message", "fixture"]);
const DEPLOY = join(CHECKOUT, "deploy.sh");
const HEAD12 = git(["rev-parse", "--short=12", "HEAD"]).trim();

function stubDir(tools: readonly string[]): string {
  const dir = join(sandbox, `bin-${tools.join("-") || "none"}`);
  if (existsSync(dir)) return dir;
  mkdirSync(dir);
  for (const t of tools) {
    writeFileSync(join(dir, t), `#!/bin/sh\necho "${t} $*" >> "${calls}"\nexit 97\n`);
    chmodSync(join(dir, t), 0o755);
  }
  return dir;
}

function deploy(args: readonly string[], tools: readonly string[] = ["aws", "kubectl", "helm", "docker"]) {
  writeFileSync(calls, "");
  const result = run(BASH, [DEPLOY, ...args], {
    env: { PATH: `${stubDir(tools)}:/usr/local/bin:/usr/bin:/bin`, HOME: sandbox, TMPDIR: sandbox, LANG: "C.UTF-8" },
  });
  return { ...result, calls: readFileSync(calls, "utf8") };
}

/** Split a printed command line back into words (the script quotes with single quotes only). */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /'((?:[^']|'\\'')*)'|(\S+)/g;
  for (const m of line.matchAll(re)) out.push(m[1] !== undefined ? m[1].replaceAll("'\\''", "'") : (m[2] as string));
  return out;
}

function commands(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("+ "))
    .map((l) => l.slice(2));
}

function workdir(stdout: string): string {
  const m = /rendered files are kept in (\S+)/.exec(stdout);
  if (!m) throw new Error(`no work directory in dry-run output:\n${stdout}`);
  return m[1] as string;
}

describe("deploy.sh", () => {
  it("is shellcheck-clean (with the scripts it sources and calls)", () => {
    const shellcheck = requireSystemTool("shellcheck");
    const r = run(shellcheck, ["--external-sources", "--severity=style", ...SCRIPTS]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("uses bash strict mode", () => {
    for (const f of [DEPLOY, join(ROOT, "scripts/smoke-test.sh")]) {
      const text = readFileSync(f, "utf8");
      expect(text.startsWith("#!/usr/bin/env bash\n"), f).toBe(true);
      expect(text, f).toMatch(/^set -euo pipefail$/m);
    }
  });

  it("--help describes the inputs and exits 0", () => {
    const r = deploy(["--help"], []);
    expect(r.code).toBe(0);
    for (const flag of ["--queue-url", "--bucket", "--cluster", "--dry-run", "--method helm|kustomize", "--kms-key-arn"]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it("names every missing required input and exits 2", () => {
    const r = deploy([], []);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--queue-url");
    expect(r.stderr).toContain("--bucket");
    expect(r.stderr).toContain("--cluster");
  });

  it("rejects malformed inputs with a clear message", () => {
    const bad = (args: string[], text: string) => {
      const r = deploy(["--dry-run", ...args], []);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(text);
    };
    bad(["--queue-url", "orders", "--bucket", "b-1", "--cluster", "c"], "--queue-url must look like");
    bad(["--queue-url", QUEUE, "--bucket", "s3://acme", "--cluster", "c"], "--bucket must be an S3 bucket name");
    bad(["--queue-url", QUEUE, "--bucket", "acme", "--cluster", "c", "--method", "kubectl"], "--method must be helm or kustomize");
    bad(["--queue-url", QUEUE, "--bucket", "acme", "--cluster", "c", "--bogus"], "unknown option: --bogus");
  });

  it("checks its prerequisites before doing anything", () => {
    const r = deploy(["--dry-run", "--queue-url", QUEUE, "--bucket", "acme-archive", "--cluster", "prod", "--image-tag", "t1"], [
      "aws",
      "kubectl",
      "docker",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'helm' is required");
    expect(r.stdout).toBe("");
    // kustomize needs no helm; --skip-build needs no docker
    const k = deploy(
      ["--dry-run", "--method", "kustomize", "--skip-build", "--queue-url", QUEUE, "--bucket", "acme-archive", "--cluster", "prod", "--image-tag", "t1"],
      ["aws", "kubectl"],
    );
    expect(k.stderr).not.toContain("is required");
    expect(k.code).toBe(0);
  });

  describe("--dry-run (helm)", () => {
    const r = deploy(["--dry-run", "--queue-url", QUEUE, "--bucket", "acme-archive", "--cluster", "prod", "--image-tag", "0123456789ab", "--namespace", "archive"]);
    const cmds = commands(r.stdout);

    it("succeeds without calling aws, kubectl, helm or docker", () => {
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      expect(r.calls).toBe("");
    });

    it("prints the whole command sequence in order", () => {
      const expected = [
        /^aws sts get-caller-identity --query Account --output text$/,
        /^aws ecr describe-repositories --region eu-west-1 --repository-names sqs-archiver$/,
        /^aws ecr create-repository --region eu-west-1 --repository-name sqs-archiver .*--image-tag-mutability IMMUTABLE/,
        /^aws ecr describe-images --region eu-west-1 --repository-name sqs-archiver --image-ids imageTag=0123456789ab$/,
        /^aws ecr get-login-password --region eu-west-1 \| docker login --username AWS --password-stdin '<ACCOUNT_ID>\.dkr\.ecr\.eu-west-1\.amazonaws\.com'$/,
        /^docker pull --quiet --platform linux\/amd64 node:24-bookworm-slim$/,
        /^docker image inspect --format '\{\{index \.RepoDigests 0\}\}' node:24-bookworm-slim$/,
        /^docker build --pull --platform linux\/amd64 .*--tag '<ACCOUNT_ID>\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/sqs-archiver:0123456789ab' \S+$/,
        /^docker push '<ACCOUNT_ID>\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/sqs-archiver:0123456789ab'$/,
        /^aws eks describe-cluster --region eu-west-1 --name prod --query cluster\.identity\.oidc\.issuer --output text$/,
        /^aws iam get-open-id-connect-provider --open-id-connect-provider-arn /,
        /^aws iam get-role --role-name sqs-archiver-prod-archive$/,
        /^aws iam create-role --role-name sqs-archiver-prod-archive .*--assume-role-policy-document file:\/\/\S+\/trust-policy\.json/,
        /^aws iam wait role-exists --role-name sqs-archiver-prod-archive$/,
        /^aws iam put-role-policy --role-name sqs-archiver-prod-archive --policy-name sqs-archiver --policy-document file:\/\/\S+\/policy\.json$/,
        /^kubectl get namespace archive$/,
        /^kubectl create namespace archive$/,
        /^kubectl label namespace archive pod-security\.kubernetes\.io\/enforce=restricted pod-security\.kubernetes\.io\/enforce-version=latest pod-security\.kubernetes\.io\/audit=restricted pod-security\.kubernetes\.io\/warn=restricted app\.kubernetes\.io\/created-by=sqs-archiver$/,
        /^helm upgrade --install sqs-archiver \S+\/helm\/sqs-archiver --namespace archive .* --atomic --wait --timeout 10m$/,
        /^kubectl rollout status deployment\/sqs-archiver --namespace archive --timeout 10m$/,
        /^kubectl get deployment sqs-archiver --namespace archive --output 'jsonpath=\{\.spec\.template\.spec\.containers\[0\]\.envFrom\[0\]\.configMapRef\.name\}'$/,
        /^kubectl get configmap '<ConfigMap>' --namespace archive --output 'jsonpath=\{\.data\.ARCHIVE_FORMAT\}'$/,
        /^kubectl get --raw \/api\/v1\/namespaces\/archive\/services\/http:sqs-archiver:http\/proxy\/health$/,
        /^kubectl get --raw \/api\/v1\/namespaces\/archive\/services\/http:sqs-archiver:http\/proxy\/ready$/,
        /^aws sqs send-message --region eu-west-1 --queue-url https:\/\/sqs\.eu-west-1\.amazonaws\.com\/123456789012\/orders --message-body .* --query MessageId --output text$/,
        /^aws s3 ls --region eu-west-1 's3:\/\/acme-archive\/sqs-messages\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/<MessageId>\.json'$/,
      ];
      // The hour may roll over between the two date calls: then one more `aws s3 ls` line.
      expect(cmds.length === expected.length || cmds.length === expected.length + 1, cmds.join("\n")).toBe(true);
      expected.forEach((re, i) => expect(cmds[i], `command ${i + 1}`).toMatch(re));
    });

    it("creates a missing namespace with the restricted Pod Security labels, never with helm --create-namespace (item 10)", () => {
      expect(cmds.some((c) => c.includes("--create-namespace"))).toBe(false);
      const label = cmds.find((c) => c.startsWith("kubectl label namespace archive")) as string;
      for (const mode of ["enforce", "audit", "warn"]) expect(label).toContain(`pod-security.kubernetes.io/${mode}=restricted`);
      expect(cmds.indexOf(label)).toBeLessThan(cmds.findIndex((c) => c.startsWith("helm upgrade")));
    });

    it("renders the IAM documents with the real values", () => {
      const dir = workdir(r.stdout);
      const trust = JSON.parse(readFileSync(join(dir, "trust-policy.json"), "utf8")) as any;
      const cond = trust.Statement[0].Condition.StringEquals as Record<string, string>;
      expect(Object.values(cond)).toContain("system:serviceaccount:archive:sqs-archiver");
      expect(Object.values(cond)).toContain("sts.amazonaws.com");
      const policy = JSON.parse(readFileSync(join(dir, "policy.json"), "utf8")) as any;
      const text = JSON.stringify(policy);
      expect(text).not.toMatch(/\$\{/);
      expect(text).toContain("arn:aws:sqs:eu-west-1:123456789012:orders");
      expect(text).toContain("arn:aws:s3:::acme-archive/sqs-messages/*");
      expect(text).not.toContain("kms:");
    });

    it("passes values the chart accepts (the printed helm command renders with helm template)", async () => {
      const line = cmds.find((c) => c.startsWith("helm upgrade")) as string;
      const w = words(line);
      const sets: string[] = [];
      // The account is a placeholder in a dry run without --account-id; the schema rightly rejects it as an ARN.
      const real = (v: string) => v.replaceAll("<ACCOUNT_ID>", "123456789012");
      for (let i = 0; i < w.length; i++) if (w[i] === "--set-string" || w[i] === "--values") sets.push(w[i] as string, real(w[i + 1] as string));
      const { helm } = ensureTools();
      const objects = parseYamlDocs(runOk(helm, ["template", "sqs-archiver", CHART, "--namespace", "archive", "--skip-tests", ...sets]));
      await validateAll(objects);
      const dep = find(objects, "Deployment") as any;
      expect(dep.spec.template.spec.containers[0].image).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com/sqs-archiver:0123456789ab");
      expect(find(objects, "ServiceAccount").metadata.annotations?.["eks.amazonaws.com/role-arn"]).toBe(
        "arn:aws:iam::123456789012:role/sqs-archiver-prod-archive",
      );
    });
  });

  describe("--dry-run with the bucket in another region (--s3-region)", () => {
    const kms = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const args = ["--dry-run", "--skip-build", "--queue-url", QUEUE, "--bucket", "acme-archive", "--cluster", "prod", "--account-id", "111122223333",
      "--image-tag", "v1", "--kms-key-arn", kms, "--s3-region", "us-east-1", "--skip-test-message"];

    it("names the bucket's region in kms:ViaService and sets the service's S3_REGION (kustomize and helm)", () => {
      const k = deploy([...args, "--method", "kustomize"], ["aws", "kubectl"]);
      expect(k.code, k.stderr).toBe(0);
      const policy = readFileSync(join(workdir(k.stdout), "policy.json"), "utf8");
      expect(policy).toContain('"kms:ViaService": "s3.us-east-1.amazonaws.com"');
      // The queue stays in its own region.
      expect(policy).toContain("arn:aws:sqs:eu-west-1:");
      const cm = find(kustomize(join(workdir(k.stdout), "overlay")), "ConfigMap") as any;
      expect(cm.data).toMatchObject({ AWS_REGION: "eu-west-1", S3_REGION: "us-east-1" });

      const h = deploy([...args, "--method", "helm"], ["aws", "helm", "kubectl"]);
      expect(h.code, h.stderr).toBe(0);
      expect(commands(h.stdout).find((c) => c.startsWith("helm ") && c.includes("upgrade --install"))).toContain("--set-string config.s3Region=us-east-1");
    });

    it("refuses a --s3-region that is not a region", () => {
      const r = deploy([...args, "--method", "kustomize", "--s3-region", "Virginia"], ["aws", "kubectl"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("--s3-region must be an AWS region");
    });
  });

  describe("--dry-run (kustomize, SSE-KMS, existing image)", () => {
    const kms = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const r = deploy(
      [
        "--dry-run",
        "--method",
        "kustomize",
        "--skip-build",
        "--queue-url",
        QUEUE,
        "--bucket",
        "acme-archive",
        "--prefix",
        "orders/",
        "--cluster",
        "prod",
        "--account-id",
        "111122223333",
        "--image-tag",
        "v1.2.3",
        "--kms-key-arn",
        kms,
        "--skip-test-message",
      ],
      ["aws", "kubectl"],
    );
    const cmds = commands(r.stdout);

    it("checks the image instead of building, and applies the rendered kustomize output", () => {
      expect(r.code, r.stderr).toBe(0);
      expect(r.calls).toBe("");
      expect(cmds[0]).toBe("aws ecr describe-images --region eu-west-1 --repository-name sqs-archiver --image-ids imageTag=v1.2.3");
      expect(cmds.some((c) => c.startsWith("docker "))).toBe(false);
      expect(cmds.some((c) => c.startsWith("aws sts "))).toBe(false);
      expect(cmds).toContainEqual(expect.stringMatching(/^kubectl kustomize \S+\/overlay > \S+\/manifests\.yaml$/));
      expect(cmds).toContainEqual(expect.stringMatching(/^kubectl apply --server-side --field-manager=deploy\.sh -f \S+\/manifests\.yaml$/));
      expect(cmds.some((c) => c.startsWith("aws sqs send-message"))).toBe(false);
    });

    it("uses the SSE-KMS policy", () => {
      const policy = readFileSync(join(workdir(r.stdout), "policy.json"), "utf8");
      expect(policy).toContain(kms);
      expect(policy).toContain('"kms:ViaService": "s3.eu-west-1.amazonaws.com"');
      expect(policy).toContain("arn:aws:s3:::acme-archive/orders/*");
    });

    it("generates an overlay that kustomize renders into valid objects with the real values", async () => {
      const objects = kustomize(join(workdir(r.stdout), "overlay"));
      await validateAll(objects);
      const cm = find(objects, "ConfigMap") as any;
      expect(cm.data).toMatchObject({ SQS_QUEUE_URL: QUEUE, S3_BUCKET_NAME: "acme-archive", S3_PREFIX: "orders/", S3_SSE: "aws:kms", S3_KMS_KEY_ID: kms });
      const dep = find(objects, "Deployment") as any;
      expect(dep.spec.template.spec.containers[0].image).toBe("111122223333.dkr.ecr.eu-west-1.amazonaws.com/sqs-archiver:v1.2.3");
      expect(find(objects, "ServiceAccount").metadata.annotations?.["eks.amazonaws.com/role-arn"]).toBe(
        "arn:aws:iam::111122223333:role/sqs-archiver-prod",
      );
    });
  });

  describe("--dry-run with a KMS alias, an existing shared namespace and kustomize", () => {
    const alias = "arn:aws:kms:eu-west-1:123456789012:alias/archive";
    const args = ["--dry-run", "--method", "kustomize", "--skip-build", "--queue-url", QUEUE, "--bucket", "acme-archive", "--cluster", "prod",
      "--account-id", "111122223333", "--image-tag", "v1", "--kms-key-arn", alias, "--namespace", "team-shared", "--skip-test-message"];
    const r = deploy(args, ["aws", "kubectl"]);
    const cmds = commands(r.stdout);

    it("resolves the alias to its key ARN before writing the policy, and never puts the alias in it", () => {
      expect(r.code, r.stderr).toBe(0);
      const describe = cmds.findIndex((c) => c.startsWith("aws kms describe-key --region eu-west-1 --key-id arn:aws:kms:eu-west-1:123456789012:alias/archive"));
      const put = cmds.findIndex((c) => c.startsWith("aws iam put-role-policy"));
      expect(describe).toBeGreaterThanOrEqual(0);
      expect(describe).toBeLessThan(put);
      const policy = readFileSync(join(workdir(r.stdout), "policy.json"), "utf8");
      expect(policy).not.toContain(":alias/");
      expect(policy).toMatch(/"arn:aws:kms:eu-west-1:[^"]*:key\/[^"]+"/);
    });

    it("neither renames, relabels nor owns the shared namespace: no Namespace object, created only if missing", async () => {
      expect(cmds).toContain("kubectl get namespace team-shared");
      expect(cmds).toContain("kubectl create namespace team-shared");
      const objects = kustomize(join(workdir(r.stdout), "overlay"));
      await validateAll(objects);
      expect(objects.filter((o) => o.kind === "Namespace")).toEqual([]);
      for (const o of objects) expect(o.metadata.namespace, o.kind).toBe("team-shared");
    });

    it("keeps the base's own restricted Namespace when deploying to the dedicated namespace sqs-archiver", () => {
      const own = deploy(args.map((a) => (a === "team-shared" ? "sqs-archiver" : a)), ["aws", "kubectl"]);
      expect(own.code, own.stderr).toBe(0);
      const ns = find(kustomize(join(workdir(own.stdout), "overlay")), "Namespace");
      expect(ns.metadata.name).toBe("sqs-archiver");
      expect(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
      expect(commands(own.stdout).some((c) => c.startsWith("kubectl create namespace"))).toBe(false);
    });
  });

  describe("--create-infra (dry run)", () => {
    const r = deploy(["--dry-run", "--create-infra", "--queue-url", QUEUE, "--bucket", "acme-archive", "--cluster", "prod", "--image-tag", "t1", "--skip-build", "--account-id", "123456789012"], ["aws", "kubectl", "helm"]);
    const cmds = commands(r.stdout);

    it("deploys the CloudFormation stack instead of managing IAM itself, with parameters the template declares", () => {
      expect(r.code, r.stderr).toBe(0);
      expect(cmds.some((c) => c.startsWith("aws iam "))).toBe(false);
      const line = cmds.find((c) => c.startsWith("aws cloudformation deploy")) as string;
      expect(line).toMatch(/--stack-name sqs-archiver-orders .*--template-file \S+\/infra\/cloudformation\/sqs-archiver\.yaml/);
      expect(line).toContain("--capabilities CAPABILITY_NAMED_IAM");
      const w = words(line);
      const overrides = w.slice(w.indexOf("--parameter-overrides") + 1);
      const template = readFileSync(join(ROOT, "infra/cloudformation/sqs-archiver.yaml"), "utf8");
      const declared = new Set([...template.matchAll(/^ {2}([A-Za-z]+):\n {4}Type: (?:String|Number)/gm)].map((m) => m[1]));
      const keys = overrides.map((o) => o.split("=")[0]);
      expect(keys.filter((k) => !declared.has(k))).toEqual([]);
      expect(overrides).toEqual(expect.arrayContaining(["QueueName=orders", "BucketName=acme-archive", "IdentityType=IRSA", "ArchivePrefix=sqs-messages/"]));
    });

    it("feeds the stack's outputs to helm", () => {
      expect(cmds.map(words)).toContainEqual(expect.arrayContaining(["describe-stacks", "Stacks[0].Outputs[?OutputKey=='RoleArn'].OutputValue"]));
      const helm = cmds.find((c) => c.startsWith("helm upgrade")) as string;
      expect(words(helm)).toContain("serviceAccount.roleArn=<RoleArn>");
    });
  });

  describe("a real run against fake aws, docker, helm and kubectl", () => {
    const fake = join(sandbox, "fake-bin");
    const log = join(sandbox, "fake.log");
    const captured = join(sandbox, "captured");
    mkdirSync(fake, { recursive: true });
    mkdirSync(captured, { recursive: true });
    // aws answers what deploy.sh and smoke-test.sh ask; FAKE_* variables choose the scenario.
    writeFileSync(
      join(fake, "aws"),
      `#!/usr/bin/env bash
echo "aws $*" >> "${log}"
case "$1 $2" in
  "sts get-caller-identity") echo 123456789012 ;;
  "ecr describe-repositories") exit 0 ;;
  "ecr describe-images") [ "\${FAKE_IMAGE_EXISTS:-}" = 1 ] || { echo "ImageNotFoundException" >&2; exit 254; } ;;
  "ecr get-login-password") echo secret ;;
  "kms describe-key") [ -n "\${FAKE_KEY_ARN:-}" ] || { echo "NotFoundException" >&2; exit 254; }; echo "$FAKE_KEY_ARN" ;;
  "eks describe-cluster") echo https://oidc.eks.eu-west-1.amazonaws.com/id/ABC123 ;;
  "iam get-open-id-connect-provider" | "iam get-role" | "iam update-assume-role-policy") exit 0 ;;
  "iam put-role-policy")
    for a in "$@"; do case $a in file://*) cp "\${a#file://}" "${captured}/policy.json" ;; esac; done ;;
  "cloudformation describe-stacks") [ -n "\${FAKE_STACK_STATUS:-}" ] || { echo "Stack with id x does not exist" >&2; exit 254; }; echo "$FAKE_STACK_STATUS" ;;
  "cloudformation deploy") exit 0 ;;
  "sqs send-message") echo mid-1 ;;
  "s3 ls") echo "2026-01-01 00:00:00 512 mid-1.json" ;;
  *) echo "fake aws: unexpected $*" >&2; exit 97 ;;
esac
`,
    );
    for (const tool of ["docker", "helm"]) writeFileSync(join(fake, tool), `#!/usr/bin/env bash\ncat > /dev/null <&0 &\necho "${tool} $*" >> "${log}"\n`);
    // docker image inspect of the base: its registry digest (what the build pins NODE_IMAGE to).
    writeFileSync(
      join(fake, "docker"),
      `#!/usr/bin/env bash\ncat > /dev/null <&0 &\necho "docker $*" >> "${log}"\n[ "$1 $2" != "image inspect" ] || echo "node:24-bookworm-slim@sha256:${"a".repeat(64)}"\n`,
    );
    // kubectl: the probes answer ok; the Deployment's ConfigMap says ARCHIVE_FORMAT message (what the smoke test reads).
    writeFileSync(
      join(fake, "kubectl"),
      `#!/usr/bin/env bash\necho "kubectl $*" >> "${log}"\ncase "$*" in\n  "get deployment "*) echo sqs-archiver-6f7c9 ;;\n  *ARCHIVE_FORMAT*) echo message ;;\n  *) echo '{"status":"ok"}' ;;\nesac\n`,
    );
    for (const tool of ["aws", "docker", "helm", "kubectl"]) chmodSync(join(fake, tool), 0o755);

    const realRun = (extra: string[], env: Record<string, string>) => {
      writeFileSync(log, "");
      rmSync(join(captured, "policy.json"), { force: true });
      const r = run(BASH, [DEPLOY, "--queue-url", QUEUE, "--bucket", "acme-archive", "--cluster", "prod", "--image-tag", "0123456789ab", "--verify-timeout", "5", ...extra], {
        env: { PATH: `${fake}:/usr/local/bin:/usr/bin:/bin`, HOME: sandbox, TMPDIR: sandbox, LANG: "C.UTF-8", ...env },
      });
      return { ...r, log: readFileSync(log, "utf8").split("\n").filter(Boolean) };
    };

    it("re-running on a commit whose image is already in ECR neither rebuilds nor pushes (immutable tags)", () => {
      const again = realRun([], { FAKE_IMAGE_EXISTS: "1" });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain("already in ECR: not rebuilding or pushing");
      expect(again.log.filter((l) => l.startsWith("docker "))).toEqual([]);
      expect(again.log).toContainEqual(expect.stringMatching(/^helm upgrade --install /));
      const first = realRun([], {});
      expect(first.code, first.stderr).toBe(0);
      expect(first.log.filter((l) => /^docker (build|push) /.test(l))).toHaveLength(2);
    });

    it("builds on the base image pinned by its registry digest, like CI", () => {
      const r = realRun([], {});
      expect(r.code, r.stderr).toBe(0);
      const build = r.log.find((l) => l.startsWith("docker build ")) as string;
      expect(build).toContain(`--build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:${"a".repeat(64)}`);
      // The namespace exists (the fake kubectl finds it): it is neither created nor relabelled.
      expect(r.log).toContain("kubectl get namespace sqs-archiver");
      expect(r.log.some((l) => l.startsWith("kubectl create namespace") || l.startsWith("kubectl label"))).toBe(false);
    });

    describe("a working tree with uncommitted changes (item 1: a workstation image must never become the tested build)", () => {
      const withDirtyTree = <T>(fn: () => T): T => {
        writeFileSync(join(CHECKOUT, "scripts/local-change.sh"), "echo uncommitted\n");
        try {
          return fn();
        } finally {
          rmSync(join(CHECKOUT, "scripts/local-change.sh"));
        }
      };

      it("is refused before anything is built or pushed, naming the way out", () => {
        const r = withDirtyTree(() => realRun([], {}));
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("uncommitted changes");
        expect(r.stderr).toContain("scripts/local-change.sh");
        expect(r.stderr).toContain("--allow-dirty");
        expect(r.log.filter((l) => l.startsWith("docker ") || l.startsWith("helm ") || l.startsWith("aws "))).toEqual([]);
        // Without --image-tag too: the commit's own tag is the one CI would skip pushing.
        const dry = withDirtyTree(() => deploy(["--dry-run", "--queue-url", QUEUE, "--bucket", "acme-archive", "--cluster", "prod"]));
        expect(dry.code).toBe(1);
        expect(dry.stdout).not.toContain("docker build");
      });

      it("with --allow-dirty goes to the dev repository as <commit>-dirty, never to the repository CD deploys from", () => {
        const dry = withDirtyTree(() => deploy(["--dry-run", "--allow-dirty", "--queue-url", QUEUE, "--bucket", "acme-archive", "--cluster", "prod"]));
        expect(dry.code, dry.stderr).toBe(0);
        const cmds = commands(dry.stdout);
        expect(cmds).toContainEqual(expect.stringMatching(/^aws ecr create-repository --region eu-west-1 --repository-name sqs-archiver-dev .*--image-tag-mutability MUTABLE/));
        expect(cmds).toContainEqual(`docker push '<ACCOUNT_ID>.dkr.ecr.eu-west-1.amazonaws.com/sqs-archiver-dev:${HEAD12}-dirty'`);
        expect(cmds.filter((c) => /\/sqs-archiver:|--repository-names? sqs-archiver( |$)/.test(c))).toEqual([]);
        const helm = words(cmds.find((c) => c.startsWith("helm upgrade")) as string);
        expect(helm).toContain(`image.tag=${HEAD12}-dirty`);
        // A clean tree still builds the commit's tag for the main repository.
        const clean = deploy(["--dry-run", "--queue-url", QUEUE, "--bucket", "acme-archive", "--cluster", "prod"]);
        expect(commands(clean.stdout)).toContainEqual(`docker push '<ACCOUNT_ID>.dkr.ecr.eu-west-1.amazonaws.com/sqs-archiver:${HEAD12}'`);
      });

      it("--skip-build (the image CI built) is allowed from any tree", () => {
        const r = withDirtyTree(() => realRun(["--skip-build"], { FAKE_IMAGE_EXISTS: "1" }));
        expect(r.code, r.stderr).toBe(0);
        expect(r.log.filter((l) => l.startsWith("docker "))).toEqual([]);
      });
    });

    it("--create-infra on a stack left in ROLLBACK_COMPLETE by a failed first create says what to do, changing nothing (item 6)", () => {
      const r = realRun(["--create-infra", "--skip-build"], { FAKE_IMAGE_EXISTS: "1", FAKE_STACK_STATUS: "ROLLBACK_COMPLETE" });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("stack sqs-archiver-orders is in ROLLBACK_COMPLETE");
      expect(r.stderr).toContain("aws cloudformation --region eu-west-1 delete-stack --stack-name sqs-archiver-orders");
      expect(r.stderr).toContain("describe-stack-events");
      expect(r.log.some((l) => l.startsWith("aws cloudformation deploy") || l.startsWith("helm ") || l.startsWith("kubectl "))).toBe(false);
      const busy = realRun(["--create-infra", "--skip-build"], { FAKE_IMAGE_EXISTS: "1", FAKE_STACK_STATUS: "UPDATE_IN_PROGRESS" });
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain("is UPDATE_IN_PROGRESS: wait for it");
    });

    it("writes the resolved key ARN, not the alias, into the role policy and the ConfigMap value", () => {
      const key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
      const r = realRun(["--kms-key-arn", "arn:aws:kms:eu-west-1:123456789012:alias/archive"], { FAKE_IMAGE_EXISTS: "1", FAKE_KEY_ARN: key });
      expect(r.code, r.stderr).toBe(0);
      const policy = JSON.parse(readFileSync(join(captured, "policy.json"), "utf8")) as any;
      const kms = policy.Statement.find((s: any) => String(s.Action).includes("kms:"));
      expect(kms.Resource).toBe(key);
      expect(r.log.find((l) => l.startsWith("helm upgrade"))).toContain(`config.s3KmsKeyId=${key}`);
    });

    it("refuses an alias it cannot resolve, before touching IAM or the cluster", () => {
      const r = realRun(["--kms-key-arn", "arn:aws:kms:eu-west-1:123456789012:alias/missing"], { FAKE_IMAGE_EXISTS: "1" });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("cannot resolve arn:aws:kms:eu-west-1:123456789012:alias/missing");
      expect(r.log.some((l) => l.startsWith("aws iam ") || l.startsWith("helm ") || l.startsWith("kubectl "))).toBe(false);
      const weird = realRun(["--kms-key-arn", "arn:aws:kms:eu-west-1:123456789012:alias/archive"], { FAKE_IMAGE_EXISTS: "1", FAKE_KEY_ARN: "None" });
      expect(weird.code).toBe(1);
      expect(weird.stderr).toContain("refusing to use");
    });
  });
});
