// node bench/fill-results.mjs bench/out/report-*.md [...]: puts the generated report(s) between the bench markers
// of bench/RESULTS.md (what `node bench/run.mjs --update-results` does for one run).
import { readFileSync, writeFileSync } from "node:fs";
const path = new URL("./RESULTS.md", import.meta.url);
const text = readFileSync(path, "utf8");
const begin = "<!-- bench:begin -->";
const end = "<!-- bench:end -->";
const body = process.argv.slice(2).map((f) => readFileSync(f, "utf8").replace(/^# /m, "### ")).join("\n");
const a = text.indexOf(begin);
const b = text.indexOf(end);
if (a < 0 || b < a) throw new Error("markers not found");
writeFileSync(path, `${text.slice(0, a + begin.length)}\n${body}\n${text.slice(b)}`);
