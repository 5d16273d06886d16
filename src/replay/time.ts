import { UsageError } from "./errors.js";

/**
 * `--since` / `--until` values, as `docker logs --since` takes them: an RFC 3339 time (`2026-11-24T12:00:00Z`,
 * `2026-11-24T14:00:00+02:00`, fractions allowed; a bare date `2026-11-24` is midnight UTC), Unix seconds
 * (`1764000000`, fractions allowed), or a duration back from now (`90m`, `2h`, `7d`, `1h30m`, `45s`, `2w`).
 */
export interface TimeSpec {
  /** Epoch milliseconds. */
  ms: number;
  /** True for a duration back from now: a resumed replay keeps the window its checkpoint recorded. */
  relative: boolean;
  input: string;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `1h30m` -> 5,400,000 ms; null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(text)) return null;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return Math.round(total);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

export function parseTime(input: string, nowMs: number, flag = "--since"): TimeSpec {
  const text = input.trim();
  const bad = (why: string) => new UsageError(`${flag} ${JSON.stringify(input)}: ${why}`);
  if (text === "") throw bad("is empty");
  if (text === "now") return { ms: nowMs, relative: true, input };
  const d = parseDuration(text);
  if (d !== null) return { ms: nowMs - d, relative: true, input };
  if (/^\d+(\.\d+)?$/.test(text)) {
    const ms = Math.round(Number(text) * 1000);
    // Milliseconds passed by mistake would land tens of thousands of years ahead.
    if (text.split(".")[0]!.length > 11) throw bad("looks like milliseconds; give Unix seconds (10 digits today)");
    return { ms, relative: false, input };
  }
  const dm = DATE_ONLY.exec(text);
  if (dm) {
    const ms = Date.UTC(Number(dm[1]), Number(dm[2]) - 1, Number(dm[3]));
    if (new Date(ms).toISOString().slice(0, 10) !== text) throw bad("is not a real date");
    return { ms, relative: false, input };
  }
  const m = RFC3339.exec(text);
  if (!m) {
    if (/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2})?(\.\d+)?$/.test(text)) {
      throw bad("has no time zone: add Z (UTC) or an offset such as +02:00");
    }
    throw bad("must be an RFC 3339 time (2026-11-24T12:00:00Z), Unix seconds (1764000000) or a duration back from now (90m, 2h, 7d)");
  }
  const [, y, mo, da, h, mi, s] = m.map((x) => x ?? "") as string[];
  if (Number(mo) < 1 || Number(mo) > 12 || Number(da) < 1 || Number(da) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) {
    throw bad("has a field out of range");
  }
  const ms = Date.parse(text.replace(" ", "T"));
  if (!Number.isFinite(ms)) throw bad("is not a valid time");
  const dayCheck = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(da)));
  if (dayCheck.getUTCDate() !== Number(da)) throw bad("is not a real date");
  return { ms, relative: false, input };
}
