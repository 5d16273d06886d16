// Summarises a V8 .cpuprofile: self time per function and per area (package / src file / node internals / GC).
// Usage: node bench/profile-summary.mjs file.cpuprofile [top]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

function area(url, name) {
  if (!url) return name.startsWith("(") ? name : "(native / builtins)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith("node:")) return "node internals";
  const d = url.indexOf("/dist/");
  if (d >= 0) return `service ${url.slice(d + 1)}`;
  return url;
}

export function summariseProfile(profile, top = 25) {
  const { nodes, samples, timeDeltas } = profile;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < samples.length; i++) self.set(samples[i], (self.get(samples[i]) ?? 0) + (timeDeltas[i] ?? 0));
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map();
  const areas = new Map();
  for (const [id, us] of self) {
    const { callFrame: cf } = byId.get(id);
    const name = cf.functionName || "(anonymous)";
    const file = cf.url ? cf.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, "$1/") : "";
    const where = file ? `${file}:${cf.lineNumber + 1}` : "";
    const k = `${name}@${where}`;
    const f = fns.get(k) ?? { name, where, us: 0 };
    f.us += us;
    fns.set(k, f);
    const a = area(cf.url, name);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const idle = [...fns.values()].filter((f) => f.name === "(idle)").reduce((s, f) => s + f.us, 0);
  const busy = totalUs - idle;
  return {
    totalMs: totalUs / 1000,
    busyMs: busy / 1000,
    functions: [...fns.values()]
      .filter((f) => f.name !== "(idle)")
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, ms: f.us / 1000, share: f.us / busy })),
    areas: [...areas.entries()]
      .filter(([n]) => n !== "(idle)")
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / busy }))
      .sort((a, b) => b.ms - a.ms),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = summariseProfile(JSON.parse(readFileSync(process.argv[2], "utf8")), Number(process.argv[3] ?? 40));
  console.log(`busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled`);
  for (const a of s.areas.slice(0, 20)) console.log(`${a.ms.toFixed(0).padStart(7)} ms ${(a.share * 100).toFixed(1).padStart(5)}%  ${a.name}`);
  console.log("");
  for (const f of s.functions) console.log(`${f.ms.toFixed(0).padStart(7)} ms ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`);
}
