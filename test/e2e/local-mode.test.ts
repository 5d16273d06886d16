import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { waitFor } from "../support/harness.js";
import { freePort, isolatedEnv, spawnService } from "../support/process.js";

const run = promisify(execFile);

describe("npm run local", () => {
  it("starts the emulator and the archiver, prints a working send-message command, and stops cleanly on Ctrl-C", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "local-mode-"));
    const [port, healthPort] = [await freePort(), await freePort()];
    const svc = spawnService(isolatedEnv({ LOCAL_PORT: String(port), HEALTH_PORT: String(healthPort), LOCAL_DATA_DIR: dataDir }), ["local"]);
    try {
      const command = await waitFor(() => svc.stdout.find((l) => l.includes("aws sqs send-message --endpoint-url"))?.trim(), 30_000);
      const fileHint = await waitFor(() => svc.stdout.find((l) => l.includes("<MessageId>.json.data"))?.trim());
      expect(command).toContain(`aws sqs send-message --endpoint-url http://127.0.0.1:${port} --queue-url `);
      // The banner says its commands need local mode running, and where the emulator differs from SQS.
      expect(svc.stdout.some((l) => /while this runs.*need local mode running/.test(l))).toBe(true);
      expect(svc.stdout.some((l) => /outside the BMP/.test(l))).toBe(true);

      // Run the printed command as a user would, in a shell.
      const sent = JSON.parse((await run("bash", ["-c", command.replace("--message-body '{\"hello\":\"world\"}'", "--message-body 'from the README'")])).stdout) as {
        MessageId: string;
      };
      const t0 = Date.now();
      const file = await waitFor(() => {
        const now = new Date();
        const hour = `${now.getUTCFullYear()}/${String(now.getUTCMonth() + 1).padStart(2, "0")}/${String(now.getUTCDate()).padStart(2, "0")}/${String(now.getUTCHours()).padStart(2, "0")}`;
        const path = fileHint.replace("YYYY/MM/DD/HH", hour).replace("<MessageId>", sent.MessageId);
        return existsSync(path) ? path : undefined;
      }, 5_000, 20);
      expect(Date.now() - t0).toBeLessThan(1_000);
      const env = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
      expect(env.body).toBe("from the README");
      expect(file.startsWith(dataDir)).toBe(true);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${healthPort}/ready`)).status === 200, 5_000);
    } finally {
      svc.child.kill("SIGINT");
    }
    const { code } = await svc.exited;
    expect(code).toBe(0);
  });
});

describe("npm run local with ARCHIVE_FORMAT=ndjson", () => {
  it("prints a command that reads the batched objects back with the aws CLI and zcat, and it works", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "local-ndjson-"));
    const [port, healthPort] = [await freePort(), await freePort()];
    const svc = spawnService(
      isolatedEnv({ LOCAL_PORT: String(port), HEALTH_PORT: String(healthPort), LOCAL_DATA_DIR: dataDir, ARCHIVE_FORMAT: "ndjson", BATCH_MAX_SECONDS: "1" }),
      ["local"],
    );
    try {
      const send = await waitFor(() => svc.stdout.find((l) => l.includes("aws sqs send-message --endpoint-url"))?.trim(), 30_000);
      const read = await waitFor(() => svc.stdout.find((l) => l.includes("| zcat; done"))?.trim());
      expect(svc.stdout.some((l) => l.includes("BATCH_MAX_SECONDS (1 s)"))).toBe(true);
      for (const body of ["first", "second"]) await run("bash", ["-c", send.replace("--message-body '{\"hello\":\"world\"}'", `--message-body '${body}'`)]);
      const lines = await waitFor(async () => {
        const out = (await run("bash", ["-c", read])).stdout.split("\n").filter(Boolean);
        return out.length >= 2 ? out : undefined;
      }, 15_000, 300);
      expect(lines.map((l) => (JSON.parse(l) as { body: string }).body).sort()).toEqual(["first", "second"]);
      // The banner names the object's file on disk, as in message mode.
      const onDisk = svc.stdout.find((l) => l.includes("<first SentTimestamp>-<hash>.ndjson.gz.data"))?.trim() as string;
      const folder = onDisk.slice(0, onDisk.indexOf("YYYY/MM/DD/HH/"));
      expect(folder.startsWith(dataDir)).toBe(true);
      const files = (readdirSync(folder, { recursive: true }) as string[]).filter((f) => /^\d{4}\/\d{2}\/\d{2}\/\d{2}\/\d+-[0-9a-f]{16}\.ndjson\.gz\.data$/.test(f));
      const stored = files.flatMap((f) => gunzipSync(readFileSync(join(folder, f))).toString("utf8").split("\n").filter(Boolean));
      expect(stored).toHaveLength(2);
    } finally {
      svc.child.kill("SIGINT");
    }
    expect((await svc.exited).code).toBe(0);
  });
});
