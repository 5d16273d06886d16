import { describe, expect, it } from "vitest";
import { BadContentError, parseEnvelope } from "../../src/archive/parse.js";
import { byExtension } from "../../src/archive/format.js";
import { lines } from "../../src/archive/read.js";
import { env } from "../replay/fixtures.js";

describe("archive reading: envelope parsing, hand-named keys, line splitting", () => {
  it("rejects non-JSON, wrong schemaVersion and non-envelopes with a reason", () => {
    const reason = (t: string) => {
      try {
        parseEnvelope(t);
      } catch (err) {
        return (err as BadContentError).reason;
      }
      return "ok";
    };
    expect(reason("nope")).toBe("NOT_JSON");
    expect(reason(JSON.stringify({ ...env(), schemaVersion: 2 }))).toBe("SCHEMA_VERSION");
    expect(reason("[1]")).toBe("NOT_ENVELOPE");
    expect(reason(JSON.stringify({ ...env(), body: 5 }))).toBe("NOT_ENVELOPE");
    expect(reason(JSON.stringify({ ...env(), attributes: {}, sentAt: "x" }))).toBe("NOT_ENVELOPE");
    expect(reason(JSON.stringify(env({ md5OfBody: "00000000000000000000000000000000" })))).toBe("MD5_MISMATCH");
    expect(reason(JSON.stringify(env()))).toBe("ok");
  });

  it("reads hand-named objects under an hour prefix by extension; skips anything else", () => {
    const hp = "p/2026/11/24/09/";
    expect(byExtension(hp, `${hp}copy.json`)).toMatchObject({ layout: "message", hour: "2026-11-24T09:00:00Z" });
    expect(byExtension(hp, `${hp}batch.ndjson.gz`)).toMatchObject({ layout: "ndjson", compression: "gzip" });
    expect(byExtension(hp, `${hp}batch.ndjson.zst`)).toMatchObject({ layout: "ndjson", compression: "zstd" });
    expect(byExtension(hp, `${hp}batch.ndjson`)).toMatchObject({ layout: "ndjson", compression: "none" });
    expect(byExtension(hp, `${hp}notes.txt`)).toBeNull();
    expect(byExtension(hp, `${hp}sub/x.json`)).toBeNull();
  });

  it("splits lines across chunk boundaries without decoding partial UTF-8", async () => {
    const text = Buffer.from('{"a":"ü"}\n{"b":"€"}\nlast', "utf8");
    async function* chunks() {
      for (let i = 0; i < text.length; i += 3) yield text.subarray(i, i + 3);
    }
    const out: string[] = [];
    for await (const l of lines(chunks())) out.push(l.toString("utf8"));
    expect(out).toEqual(['{"a":"ü"}', '{"b":"€"}', "last"]);
  });
});
