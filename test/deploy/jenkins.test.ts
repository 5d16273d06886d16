import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, requireSystemTool, run } from "./helpers.js";

const CI = join(ROOT, "Jenkinsfile-CI");
const CD = join(ROOT, "Jenkinsfile-CD");

function stages(text: string): string[] {
  return [...text.matchAll(/\bstage\('([^']+)'\)/g)].map((m) => m[1] as string);
}

describe("Jenkinsfiles", () => {
  it("parse and lint clean with npm-groovy-lint (recommended-jenkinsfile rules, no errors or warnings)", () => {
    requireSystemTool("java");
    // Run under this Node (24): npm-groovy-lint needs Node >= 22.15, whatever `node` is first on PATH.
    const r = run(
      process.execPath,
      [join(ROOT, "node_modules/npm-groovy-lint/lib/index.js"), "--noserver", "--config", "recommended-jenkinsfile", "--output", "json", "--failon", "none", CI, CD],
      { timeout: 300_000 },
    );
    const json = r.stdout.slice(r.stdout.indexOf("{"));
    const report = JSON.parse(json) as {
      summary: { totalFilesLinted: number; totalFoundErrorNumber: number; totalFoundWarningNumber: number };
      files: Record<string, { errors: Array<{ line: number; rule: string; severity: string; msg: string }> }>;
    };
    const problems = Object.entries(report.files).flatMap(([f, v]) =>
      v.errors.filter((e) => e.severity !== "info").map((e) => `${f}:${e.line} ${e.severity} ${e.rule}: ${e.msg.slice(0, 160)}`),
    );
    expect(problems).toEqual([]);
    expect(report.summary.totalFilesLinted).toBe(2);
    expect(report.summary.totalFoundErrorNumber).toBe(0);
  }, 300_000);

  describe("Jenkinsfile-CI", () => {
    const text = readFileSync(CI, "utf8");

    it("is a declarative pipeline with the stages the issue lists", () => {
      expect(text).toMatch(/^pipeline \{$/m);
      expect(stages(text)).toEqual([
        "Checkout",
        "Install",
        "Dependency audit",
        "Lint",
        "Typecheck",
        "Test",
        "Helm lint and template",
        "Build image",
        "SBOM and vulnerability scan",
        "Integration (LocalStack)",
        "Push to ECR",
        "Sign image",
        "Record tag for CD",
      ]);
    });

    it("installs, lints, typechecks and publishes JUnit results", () => {
      expect(text).toContain("npm ci");
      expect(text).toContain("npm audit --omit=dev");
      expect(text).toContain("npm run lint");
      expect(text).toContain("npm run typecheck");
      expect(text).toContain("npm test -- --reporter=junit --outputFile.junit=reports/junit.xml");
      expect(text).toMatch(/junit testResults: 'reports\/junit\.xml'/);
    });

    it("lints and renders the chart with the bundled helm", () => {
      expect(text).toContain("node scripts/get-tools.mjs");
      expect(text).toContain('helm lint --strict "$chart"');
      expect(text).toContain("helm template");
      expect(existsSync(join(ROOT, "scripts/get-tools.mjs"))).toBe(true);
    });

    it("runs the LocalStack suite only where docker works", () => {
      const stage = text.slice(text.indexOf("stage('Integration (LocalStack)')"), text.indexOf("stage('Push to ECR')"));
      expect(stage).toContain("docker info");
      expect(stage).toContain("ARCHIVER_TEST_BACKEND = 'localstack'");
      expect(stage).toContain("test/integration/localstack.test.ts");
      expect(existsSync(join(ROOT, "test/integration/localstack.test.ts"))).toBe(true);
    });

    it("builds the image, logs in to ECR, pushes the commit tag and records it for CD", () => {
      expect(text).toContain("git rev-parse --short=12 HEAD");
      expect(text).toContain("docker build");
      expect(text).toContain("aws ecr get-login-password");
      expect(text).toContain('./scripts/ecr-push.sh --image "$IMAGE"');
      expect(text).toContain("writeFile file: 'image-tag.txt'");
      expect(text).toContain("archiveArtifacts artifacts: 'image-tag.txt,image.txt,image-digest.txt'");
      expect(text).toMatch(/build job: env\.CD_JOB[\s\S]*string\(name: 'IMAGE_TAG'[\s\S]*string\(name: 'ENVIRONMENT'/);
    });
  });

  describe("Jenkinsfile-CD", () => {
    const text = readFileSync(CD, "utf8");

    it("is a declarative pipeline with IMAGE_TAG and ENVIRONMENT parameters and the stages the issue lists", () => {
      expect(text).toMatch(/^pipeline \{$/m);
      expect(text).toMatch(/string\(name: 'IMAGE_TAG'/);
      expect(text).toMatch(/choice\(name: 'ENVIRONMENT', choices: \['dev', 'staging', 'production'\]/);
      expect(stages(text)).toEqual([
        "Validate parameters",
        "Verify image in ECR",
        "Verify signature",
        "Approve production",
        "Deploy",
        "Check out IMAGE_TAG",
        "Helm upgrade",
        "Rollout status",
        "Smoke test",
      ]);
    });

    it("has a values file for every environment it offers", () => {
      for (const env of ["dev", "staging", "production"]) expect(existsSync(join(ROOT, "helm/environments", `${env}.yaml`)), env).toBe(true);
    });

    it("verifies the image exists in ECR before deploying", () => {
      expect(text).toContain("aws ecr describe-images");
      expect(text).toContain('--image-ids imageTag="$IMAGE_TAG"');
    });

    it("gates production behind a manual approval", () => {
      const stage = text.slice(text.indexOf("stage('Approve production')"), text.indexOf("stage('Deploy')"));
      expect(stage).toContain("params.ENVIRONMENT == 'production'");
      expect(stage).toMatch(/input \{[\s\S]*submitter/);
    });

    it("deploys atomically with helm, waits for the rollout, smoke-tests and rolls back on failure", () => {
      expect(text).toContain('helm upgrade --install "$RELEASE" helm/sqs-archiver');
      expect(text).toContain("--atomic");
      expect(text).toContain("--wait");
      expect(text).toContain('--values "$VALUES_FILE"');
      expect(text).toContain("kubectl rollout status");
      expect(text).toContain("./scripts/smoke-test.sh");
      expect(text).toContain("./scripts/cd-rollback.sh");
    });

    it("never runs `helm rollback <release> 0` (current - 1, whatever its status)", () => {
      expect(text).not.toMatch(/helm rollback\s+\S+\s+0\b/);
      const post = text.slice(text.indexOf("failure {", text.indexOf("stage('Smoke test')")));
      expect(post).toContain('--previous "${PREVIOUS_REVISION:-}" --upgraded "${UPGRADED_REVISION:-}"');
      const upgrade = text.slice(text.indexOf("stage('Helm upgrade')"), text.indexOf("stage('Rollout status')"));
      // PREVIOUS before the upgrade, UPGRADED only after it completed.
      expect(upgrade.indexOf("env.PREVIOUS_REVISION")).toBeLessThan(upgrade.indexOf("helm upgrade --install"));
      expect(upgrade.indexOf("env.UPGRADED_REVISION")).toBeGreaterThan(upgrade.indexOf("helm upgrade --install"));
    });

    it("deploys the chart and values of the IMAGE_TAG commit, and the image by the digest ECR reports", () => {
      const checkout = text.slice(text.indexOf("stage('Check out IMAGE_TAG')"), text.indexOf("stage('Helm upgrade')"));
      expect(checkout).toContain('git checkout --quiet --detach "$revision"');
      expect(checkout).toContain('test "$(git rev-parse --short=12 HEAD)" = "$IMAGE_TAG"');
      expect(text).toContain("--query 'imageDetails[0].imageDigest'");
      expect(text).toContain('--set-string image.digest="$IMAGE_DIGEST"');
      expect(text).toMatch(/IMAGE_DIGEST ==~ \/\^sha256:\[0-9a-f\]\{64\}\$\//);
    });

    it("serialises deployments per environment, so a pending production approval does not block dev", () => {
      expect(text).not.toMatch(/^\s*disableConcurrentBuilds\(/m);
      const deploy = text.slice(text.indexOf("stage('Deploy')"));
      expect(deploy.slice(0, deploy.indexOf("stages {"))).toMatch(/options \{\s*lock\(resource: "sqs-archiver-\$\{params\.ENVIRONMENT\}"\)/);
      // The approval is outside the lock (and outside any agent): waiting holds neither.
      const approval = text.slice(text.indexOf("stage('Approve production')"), text.indexOf("stage('Deploy')"));
      expect(approval).not.toContain("lock(");
      expect(approval).not.toContain("agent {");
    });
  });
});

describe("supply chain (item 1): only the image CI built and signed is deployed", () => {
  const ci = readFileSync(CI, "utf8");
  const cd = readFileSync(CD, "utf8");
  const stage = (text: string, name: string) => {
    const start = text.indexOf(`stage('${name}')`);
    const next = text.indexOf("stage('", start + 1);
    return text.slice(start, next === -1 ? undefined : next);
  };

  it("CI pushes through scripts/ecr-push.sh, never skipping the push just because the tag exists", () => {
    const push = stage(ci, "Push to ECR");
    expect(push).toContain("./scripts/ecr-push.sh --image \"$IMAGE\"");
    expect(push).not.toContain("already in ECR");
  });

  it("CI signs the pushed digest with cosign where installed; CD verifies the digest it deploys, required beyond dev", () => {
    const sign = stage(ci, "Sign image");
    expect(sign).toContain("command -v cosign");
    expect(sign).toMatch(/cosign sign --yes --key "\$COSIGN_KEY"[^\n]*\\\n[^\n]*"\$ECR_REGISTRY\/\$ECR_REPOSITORY@\$digest"/);
    expect(sign).toContain("digest=$(cat image-digest.txt)");
    const stagesCd = stages(cd);
    expect(stagesCd.indexOf("Verify signature")).toBeGreaterThan(stagesCd.indexOf("Verify image in ECR"));
    expect(stagesCd.indexOf("Verify signature")).toBeLessThan(stagesCd.indexOf("Deploy"));
    const verify = stage(cd, "Verify signature");
    expect(verify).toMatch(/cosign verify --key "\$COSIGN_KEY"[^\n]*\\\n\s*"\$IMAGE_REPOSITORY@\$IMAGE_DIGEST"/);
    // Without cosign: dev only, with a warning; staging and production refuse.
    const noCosign = verify.slice(verify.indexOf("if ! command -v cosign"), verify.indexOf("cosign verify"));
    expect(noCosign).toContain('[ "$ENVIRONMENT" = dev ]');
    expect(noCosign).toContain("exit 1");
    // Helm deploys the same digest that was verified.
    expect(cd).toContain('--set-string image.digest="$IMAGE_DIGEST"');
  });

  it("CD creates a missing namespace with Pod Security labels (scripts/ensure-namespace.sh), not helm --create-namespace", () => {
    const upgrade = stage(cd, "Helm upgrade");
    expect(upgrade).not.toContain("--create-namespace");
    expect(upgrade.indexOf('./scripts/ensure-namespace.sh --namespace "$NAMESPACE"')).toBeGreaterThan(-1);
    expect(upgrade.indexOf("./scripts/ensure-namespace.sh")).toBeLessThan(upgrade.indexOf("helm upgrade --install"));
  });

  it("the ECR repository policy denies pushes to everyone but the CI (and break-glass) role", () => {
    const policy = JSON.parse(readFileSync(join(ROOT, "iam/ecr-repository-policy.json"), "utf8")) as any;
    const deny = policy.Statement.find((st: any) => st.Effect === "Deny");
    expect(deny.Principal).toBe("*");
    expect(deny.Action).toEqual(expect.arrayContaining(["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"]));
    expect(deny.Condition.ArnNotEquals["aws:PrincipalArn"]).toContain("arn:${AWS_PARTITION}:iam::${AWS_ACCOUNT_ID}:role/${CI_ROLE_NAME}");
    // Nothing else may push: no Allow statement grants a push action.
    const allowed = policy.Statement.filter((st: any) => st.Effect === "Allow").flatMap((st: any) => [st.Action].flat());
    expect(allowed.filter((a: string) => deny.Action.includes(a))).toEqual([]);
    const docs = readFileSync(join(ROOT, "docs/deploy.md"), "utf8");
    expect(docs).toContain("aws ecr set-repository-policy --repository-name sqs-archiver --policy-text file://");
    expect(docs).toContain("cosign is not available");
  });
});

describe("scripts/ecr-push.sh (Jenkinsfile-CI Push to ECR)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-ecr-push-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const log = join(dir, "calls.log");
  const BUILT = `sha256:${"b".repeat(64)}`;
  const OTHER = `sha256:${"c".repeat(64)}`;
  const REPO_DIGEST = `sha256:${"d".repeat(64)}`;
  // Fake docker (the local build is BUILT) and aws (FAKE_REMOTE_CONFIG: the config digest of the tag in ECR; empty: no tag).
  writeFileSync(
    join(bin, "docker"),
    `#!/usr/bin/env bash\necho "docker $*" >> "${log}"\ncase "$1 $2" in "image inspect") echo "${BUILT}" ;; push*) echo pushed > "${dir}/pushed" ;; esac\n`,
  );
  writeFileSync(
    join(bin, "aws"),
    `#!/usr/bin/env bash
echo "aws $*" >> "${log}"
remote=\${FAKE_REMOTE_CONFIG:-}
[ -z "$remote" ] && [ -f "${dir}/pushed" ] && remote=${BUILT}
[ -n "$remote" ] || { echo "ImageNotFoundException" >&2; exit 254; }
case "$2" in
  describe-images) echo "${REPO_DIGEST}" ;;
  batch-get-image) printf '%s\n' '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"'"$remote"'"},"layers":[]}' ;;
esac
`,
  );
  chmodSync(join(bin, "docker"), 0o755);
  chmodSync(join(bin, "aws"), 0o755);
  const script = join(ROOT, "scripts/ecr-push.sh");
  const push = (remote: string | undefined) => {
    writeFileSync(log, "");
    rmSync(join(dir, "pushed"), { force: true });
    rmSync(join(dir, "digest.txt"), { force: true });
    const r = run("bash", [script, "--image", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/sqs-archiver:0123456789ab", "--region", "eu-west-1", "--digest-file", join(dir, "digest.txt")], {
      env: { PATH: `${bin}:/usr/bin:/bin`, ...(remote ? { FAKE_REMOTE_CONFIG: remote } : {}) },
    });
    const digest = existsSync(join(dir, "digest.txt")) ? readFileSync(join(dir, "digest.txt"), "utf8").trim() : undefined;
    return { ...r, digest, calls: readFileSync(log, "utf8") };
  };

  it("is shellcheck-clean", () => {
    const r = run(requireSystemTool("shellcheck"), ["--external-sources", "--severity=style", script]);
    expect(r.stdout + r.stderr).toBe("");
  });

  it("pushes a new tag and records the repository digest", () => {
    const r = push(undefined);
    expect(r.code, r.stderr).toBe(0);
    expect(r.calls).toContain("docker push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/sqs-archiver:0123456789ab");
    expect(r.digest).toBe(REPO_DIGEST);
  });

  it("accepts an existing tag only when it names the image this build made", () => {
    const same = push(BUILT);
    expect(same.code, same.stderr).toBe(0);
    expect(same.calls).not.toContain("docker push");
    expect(same.digest).toBe(REPO_DIGEST);
  });

  it("fails, recording nothing, when the existing tag names another image (a workstation push)", () => {
    const r = push(OTHER);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`names ${REPO_DIGEST} (config ${OTHER}), not the image this build made (${BUILT})`);
    expect(r.calls).not.toContain("docker push");
    expect(r.digest).toBeUndefined();
  });
});

describe("scripts/cd-rollback.sh (Jenkinsfile-CD failure handling)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-rollback-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const log = join(dir, "helm.log");
  // A fake helm: `history` prints $FAKE_HISTORY (JSON), `rollback` is recorded.
  writeFileSync(
    join(bin, "helm"),
    `#!/usr/bin/env bash\necho "helm $*" >> "${log}"\ncase $1 in history) [ -n "\${FAKE_HISTORY:-}" ] || { echo "Error: release: not found" >&2; exit 1; }; printf '%s\\n' "$FAKE_HISTORY" ;; rollback) exit 0 ;; esac\n`,
  );
  chmodSync(join(bin, "helm"), 0o755);
  const script = join(ROOT, "scripts/cd-rollback.sh");
  const rev = (n: number, status: string) => `{"revision":${n},"updated":"2026-01-01T00:00:00Z","status":"${status}","chart":"sqs-archiver-2.0.0","app_version":"1.0.0","description":"Upgrade complete"}`;
  const call = (args: string[], history: string[] | undefined) => {
    writeFileSync(log, "");
    const r = run("bash", [script, "--release", "sqs-archiver", "--namespace", "ns", ...args], {
      env: { PATH: `${bin}:/usr/bin:/bin`, ...(history ? { FAKE_HISTORY: `[${history.join(",")}]` } : {}) },
    });
    return { ...r, rollbacks: readFileSync(log, "utf8").split("\n").filter((l) => l.startsWith("helm rollback")) };
  };

  it("is shellcheck-clean, like the other scripts", () => {
    const r = run(requireSystemTool("shellcheck"), ["--external-sources", "--severity=style", script, join(ROOT, "scripts/image-scan.sh")]);
    expect(r.stdout + r.stderr).toBe("");
  });

  it("finds the last deployed revision (nothing for a new release)", () => {
    expect(call(["--print-deployed-revision"], [rev(3, "superseded"), rev(4, "deployed"), rev(5, "failed")]).stdout.trim()).toBe("4");
    expect(call(["--print-deployed-revision"], undefined).stdout.trim()).toBe("");
    expect(call(["--print-latest-revision"], [rev(4, "superseded"), rev(5, "deployed")]).stdout.trim()).toBe("5");
  });

  it("after --atomic undid a failed upgrade (no completed revision), rolls nothing back", () => {
    // History after an atomic failure: 4 superseded, 5 failed, 6 = rollback to 4 (deployed).
    const r = call(["--previous", "4", "--upgraded", ""], [rev(4, "superseded"), rev(5, "failed"), rev(6, "deployed")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.rollbacks).toEqual([]);
    expect(r.stderr).toContain("not rolling back");
  });

  it("after an upgrade that failed before creating a revision (schema, required, fail guard), leaves the healthy release alone", () => {
    const r = call(["--previous", "4", "--upgraded", ""], [rev(3, "superseded"), rev(4, "deployed")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("helm upgrade did not complete");
    expect(r.rollbacks).toEqual([]);
  });

  it("after a completed upgrade whose rollout or smoke test failed, rolls back to the previously deployed revision", () => {
    const r = call(["--previous", "4", "--upgraded", "5", "--timeout", "3m"], [rev(4, "superseded"), rev(5, "deployed")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.rollbacks).toEqual(["helm rollback sqs-archiver 4 --namespace ns --wait --timeout 3m"]);
  });

  it("does not roll back a first install, or a release someone changed since", () => {
    const first = call(["--previous", "", "--upgraded", "1"], [rev(1, "deployed")]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("first installation");
    expect(first.rollbacks).toEqual([]);
    const changed = call(["--previous", "4", "--upgraded", "5"], [rev(4, "superseded"), rev(5, "superseded"), rev(6, "deployed")]);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stderr).toContain("someone else changed it");
    expect(changed.rollbacks).toEqual([]);
  });
});

describe("scripts/image-scan.sh (Jenkinsfile-CI SBOM and vulnerability scan)", () => {
  const dir = mkdtempSync(join(tmpdir(), "sqs-archiver-scan-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(ROOT, "scripts/image-scan.sh");
  const withTrivy = join(dir, "trivy-bin");
  mkdirSync(withTrivy);
  // Fake trivy: writes the --output file; FAKE_TRIVY=findings|nodb decides the scan's result.
  writeFileSync(
    join(withTrivy, "trivy"),
    `#!/usr/bin/env bash
out=""; code=0; prev=""
for a in "$@"; do [ "$prev" = --output ] && out=$a; [ "$prev" = --exit-code ] && code=$a; prev=$a; done
case "$*" in *cyclonedx*) echo '{"bomFormat":"CycloneDX"}' > "$out"; exit 0 ;; esac
case "\${FAKE_TRIVY:-clean}" in
  findings) echo "CVE-2099-0001 HIGH openssl" > "$out"; exit "$code" ;;
  nodb) echo "FATAL failed to download vulnerability DB" >&2; exit 1 ;;
  *) : > "$out"; exit 0 ;;
esac
`,
  );
  chmodSync(join(withTrivy, "trivy"), 0o755);
  const scan = (path: string, env: Record<string, string> = {}) => {
    const out = mkdtempSync(join(dir, "out-"));
    const r = run("bash", [script, "registry.example/sqs-archiver:abc", out], { env: { PATH: `${path}:/usr/bin:/bin`, ...env } });
    return { ...r, out };
  };

  it("writes a CycloneDX SBOM and passes a clean image", () => {
    const r = scan(withTrivy);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(r.out, "sbom.cdx.json"), "utf8")).bomFormat).toBe("CycloneDX");
  });

  it("fails the build on fixable HIGH/CRITICAL findings", () => {
    const r = scan(withTrivy, { FAKE_TRIVY: "findings" });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain("CVE-2099-0001");
  });

  it("is skipped with a clear SKIPPED line, not failed, without a scanner or without network", () => {
    const none = scan(join(dir, "empty-bin"));
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/^SKIPPED: SBOM and vulnerability scan: neither trivy nor syft is installed/m);
    const offline = scan(withTrivy, { FAKE_TRIVY: "nodb" });
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(/^SKIPPED: trivy could not scan .*vulnerability database unreachable/m);
    expect(existsSync(join(offline.out, "sbom.cdx.json"))).toBe(true);
    const required = scan(join(dir, "empty-bin"), { SCAN_REQUIRED: "true" });
    expect(required.code).toBe(1);
  });
});
