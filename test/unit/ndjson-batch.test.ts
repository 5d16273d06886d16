import { randomBytes } from "node:crypto";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { NdjsonObjectBuilder } from "../../src/archive/ndjson-batch.js";
import { createObjectEncoder } from "../../src/archive/object-encoder.js";

const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, body: `"\\\n ${"é".repeat(i % 50)} 😀 \u2028` }));
const expected = Buffer.from(lines.map((l) => `${l}\n`).join(""), "utf8");

describe("NdjsonObjectBuilder", () => {
  it.each([
    ["gzip", gunzipSync],
    ["zstd", zstdDecompressSync],
    ["none", (b: Buffer) => b],
  ] as const)("%s: one line per append, newline-terminated, bytes exact after decoding", async (compression, decode) => {
    let reported = 0;
    const b = new NdjsonObjectBuilder(compression, (n) => (reported += n));
    for (const l of lines) b.append(l);
    expect(b.lineCount).toBe(lines.length);
    const out = await b.finish();
    expect(decode(out).equals(expected)).toBe(true);
    // Every output byte was reported for the memory budget, exactly once.
    expect(reported).toBe(out.length);
    expect(b.outputBytes).toBe(out.length);
    if (compression !== "none") expect(out.length).toBeLessThan(expected.length / 3);
  });

  it("estimates its size from the first line on (uncompressed until the codec has spoken), never under the output", async () => {
    const b = new NdjsonObjectBuilder("gzip");
    b.append("x".repeat(100));
    expect(b.estimatedBytes).toBeGreaterThanOrEqual(101);
    for (const l of lines) b.append(l);
    const out = await b.finish();
    expect(b.estimatedBytes).toBeGreaterThanOrEqual(out.length);
  });

  it("charges every line to the memory budget until the compressor has consumed it, then only its output", async () => {
    // Incompressible ~900 KiB bodies, appended faster than the codec (on the threadpool) can take them.
    const big = Array.from({ length: 20 }, () => JSON.stringify({ body: randomBytes(675 * 1024).toString("base64") }));
    let charged = 0;
    let peakUncharged = 0;
    const b = new NdjsonObjectBuilder("gzip", (n) => (charged += n));
    for (const l of big) {
      b.append(l);
      peakUncharged = Math.max(peakUncharged, b.estimatedBytes - charged);
    }
    const appended = big.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0);
    expect(charged).toBeGreaterThanOrEqual(appended);
    const sampler = setInterval(() => (peakUncharged = Math.max(peakUncharged, b.estimatedBytes - charged)), 1);
    const out = await b.finish();
    clearInterval(sampler);
    expect(peakUncharged).toBe(0);
    expect(charged).toBe(out.length);
  });

  it("refuses lines after finish and returns the same object when finished twice", async () => {
    const b = new NdjsonObjectBuilder("none");
    b.append("{}");
    const [x, y] = await Promise.all([b.finish(), b.finish()]);
    expect(x).toBe(y);
    expect(() => b.append("{}")).toThrow(/finished/);
  });
});

describe("createObjectEncoder", () => {
  it("chooses the NDJSON encoder, which names its suffix, content type and layout metadata from the compression", async () => {
    const gz = createObjectEncoder("gzip", () => undefined);
    expect([gz.extension, gz.contentType, gz.contentEncoding, gz.formatMetadata]).toEqual([".ndjson.gz", "application/x-ndjson", "gzip", { "archive-format": "ndjson", compression: "gzip" }]);
    const plain = createObjectEncoder("none", () => undefined);
    plain.append('{"a":1}');
    expect([plain.extension, plain.contentEncoding]).toEqual([".ndjson", undefined]);
    expect((await plain.finish()).toString("utf8")).toBe('{"a":1}\n');
  });
});
