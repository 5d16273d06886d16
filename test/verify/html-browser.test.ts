/**
 * The HTML report in a real browser: the CLI (`verify --html`) writes it from an archive in the emulator, headless
 * Chromium (Debian's `chromium`, driven by playwright-core; no browser is downloaded) opens the file, and the test
 * reads what rendered: the chart's bars and points, the tables, no console error, no request, no injected element.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEnvelope, md5Hex, serializeEnvelope, validateMessage, type Envelope } from "../../src/archive/envelope.js";
import { hourPath } from "../../src/archive/format.js";
import { buildKey } from "../../src/archive/key.js";
import { startBackend, type Backend } from "../support/harness.js";
import { assertBuilt } from "../support/process.js";
import { putNdjson } from "../replay/helpers.js";
import { BUCKET, putRaw, verifyJson } from "./helpers.js";

const CHROMIUM = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p): p is string => Boolean(p && existsSync(p)));
if (!CHROMIUM) console.warn("html-browser.test.ts SKIPPED: no Chromium found (set CHROMIUM_PATH, or apt-get install chromium)");

const H0 = Date.UTC(2026, 10, 24, 9, 0, 0);
const HOUR = 3_600_000;

function envelope(i: number, sentMs: number): Envelope {
  const body = `order ${i} <b>bold</b> & "quoted"`;
  const id = `0000${i}`.slice(-4).padStart(8, "a") + "-1111-2222-3333-444444444444";
  const valid = validateMessage({ MessageId: id, ReceiptHandle: "rh", Body: body, MD5OfBody: md5Hex(body), Attributes: { SentTimestamp: String(sentMs) } });
  return buildEnvelope(valid, "https://sqs.us-east-1.amazonaws.com/000000000000/orders", new Date(sentMs + 1000));
}

describe.skipIf(!CHROMIUM)(`HTML report in headless Chromium (${CHROMIUM ?? "not installed: skipped"})`, () => {
  let backend: Backend;
  let browser: Browser;
  let file: string;
  let report: Record<string, any>;
  const P = "html/";
  const hostileKey = `${P}${hourPath(H0 + 2 * HOUR)}/<img src=x onerror=alert(1)>.json`;

  beforeAll(async () => {
    assertBuilt();
    backend = await startBackend();
    backend.createBucket(BUCKET);
    // Hour 0: 5 messages; hour 1: none; hour 2: 8 messages, 2 of them written again (duplicates) and one tampered
    // message in an object named with markup.
    const h0 = Array.from({ length: 5 }, (_, i) => envelope(i, H0 + 60_000 * (i + 1)));
    const h2 = Array.from({ length: 8 }, (_, i) => envelope(100 + i, H0 + 2 * HOUR + 60_000 * (i + 1)));
    await putNdjson(backend, BUCKET, P, h0, "gzip");
    await putNdjson(backend, BUCKET, P, h2.slice(0, 4), "zstd");
    for (const e of h2.slice(4)) await putRaw(backend, buildKey(P, e.messageId, Number(e.attributes.SentTimestamp)), serializeEnvelope(e));
    await putNdjson(backend, BUCKET, P, h2.slice(0, 2), "none");
    const tampered = { ...envelope(200, H0 + 2 * HOUR + 30_000), body: "</td></tr></table><script>alert(1)</script>" };
    await putRaw(backend, hostileKey, JSON.stringify(tampered));
    file = join(mkdtempSync(join(tmpdir(), "verify-html-")), "report.html");
    const r = await verifyJson(backend, ["--since", new Date(H0).toISOString(), "--until", new Date(H0 + 3 * HOUR).toISOString(), "--prefix", P, "--html", file]);
    expect(r.code).toBe(1);
    report = r.report;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await backend?.close();
  });

  it("opens offline with no console error and no request, and renders the chart and tables with the run's numbers", async () => {
    expect(report.totals).toMatchObject({ messages: 16, distinctIds: 14, duplicates: 2, problems: 1 });
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    page.on("request", (r) => requests.push(r.url()));
    const url = pathToFileURL(file).href;
    await page.goto(url, { waitUntil: "load" });

    const bars = await page.$$eval("svg#chart rect.bar-messages", (els) =>
      els.map((e) => ({ hour: e.getAttribute("data-hour"), messages: Number(e.getAttribute("data-messages")), height: (e as unknown as { getBBox(): { height: number } }).getBBox().height, problems: e.classList.contains("has-problems") })),
    );
    expect(bars.map((b) => [b.hour, b.messages])).toEqual([
      ["2026-11-24T09:00:00Z", 5],
      ["2026-11-24T10:00:00Z", 0],
      ["2026-11-24T11:00:00Z", 11],
    ]);
    // Drawn to scale: the empty hour has no bar, the 11-message hour is 11/5 as tall as the 5-message one.
    expect(bars[1]?.height).toBe(0);
    expect((bars[2]?.height ?? 0) / (bars[0]?.height ?? 1)).toBeCloseTo(11 / 5, 2);
    expect(bars.map((b) => b.problems)).toEqual([false, false, true]);
    const points = await page.$$eval("svg#chart circle.point-duplicates[data-hour]", (els) => els.map((e) => Number(e.getAttribute("data-duplicates"))));
    expect(points).toEqual([0, 0, 2]);
    const box = await page.locator("svg#chart").boundingBox();
    expect(box?.width).toBeGreaterThan(100);
    expect(box?.height).toBeGreaterThan(100);

    const hourRows = await page.$$eval("table#hours tbody tr", (rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)));
    expect(hourRows[2]?.slice(0, 5)).toEqual(["2026-11-24T11:00:00Z", "7", "11", "9", "2"]);
    const total = await page.$$eval("table#hours tfoot th, table#hours tfoot td", (c) => c.map((x) => x.textContent));
    expect(total.slice(0, 5)).toEqual(["total", String(report.totals.objects), "16", "14", "2"]);

    const problems = await page.$$eval("table#problems tbody tr", (rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent)));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.[0]).toBe("MD5_MISMATCH");
    expect(problems[0]?.[2]).toBe(hostileKey);
    expect(await page.locator("#verdict").textContent()).toContain("1 problems found");

    // Archive content is text, never markup: nothing was injected.
    expect(await page.locator("img, script").count()).toBe(0);
    expect(errors).toEqual([]);
    expect(requests).toEqual([url]);
    await page.close();
  });
});
