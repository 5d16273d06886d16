import type { Envelope } from "../archive/envelope.js";
import { UsageError } from "./errors.js";

/**
 * `--filter NAME=VALUE`: a message matches when its message attribute NAME has a String/Number value (any custom
 * type such as `Number.int`, `String.json`) equal to VALUE; when the message has no message attribute NAME, its
 * system attribute NAME is tried instead (`MessageGroupId`, `SenderId`, `AWSTraceHeader`, ...). A VALUE ending in
 * `*` matches by prefix (`tenant=acme-*`); `NAME=*` only requires the attribute to exist. Binary attributes compare
 * their base64 text. Filters on different names must all match (AND); the same name repeated matches any of its
 * values (OR). `NAME!=VALUE` excludes instead: a message matches when NAME is absent or differs (`smoke-test!=*`
 * drops every message the CD smoke test sent); each exclusion must hold. `!` cannot occur in an SQS attribute name.
 */
export interface Filter {
  name: string;
  value: string;
  prefix: boolean;
  negate?: true;
}

export function parseFilter(text: string): Filter {
  const i = text.indexOf("=");
  const negate = i > 0 && text[i - 1] === "!";
  const name = text.slice(0, negate ? i - 1 : i);
  if (i <= 0 || name === "") throw new UsageError(`--filter ${JSON.stringify(text)}: must be NAME=VALUE or NAME!=VALUE (a message or system attribute name)`);
  let value = text.slice(i + 1);
  const prefix = value.endsWith("*");
  if (prefix) value = value.slice(0, -1);
  return negate ? { name, value, prefix, negate } : { name, value, prefix };
}

function attributeValue(env: Envelope, name: string): string | undefined {
  const a = env.messageAttributes?.[name];
  if (a) return a.StringValue ?? a.BinaryValue ?? "";
  return env.attributes?.[name];
}

export function matchesFilters(env: Envelope, filters: readonly Filter[]): boolean {
  if (filters.length === 0) return true;
  const byName = new Map<string, Filter[]>();
  for (const f of filters) {
    if (f.negate) {
      const v = attributeValue(env, f.name);
      if (v !== undefined && (f.prefix ? v.startsWith(f.value) : v === f.value)) return false;
    } else {
      byName.set(f.name, [...(byName.get(f.name) ?? []), f]);
    }
  }
  for (const [name, alternatives] of byName) {
    const v = attributeValue(env, name);
    if (v === undefined) return false;
    if (!alternatives.some((f) => (f.prefix ? v.startsWith(f.value) : v === f.value))) return false;
  }
  return true;
}
