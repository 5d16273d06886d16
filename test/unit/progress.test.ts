import { describe, expect, it } from "vitest";
import { progressLine } from "../../src/cli/progress.js";
import { replayCommand } from "../../src/cli/replay-command.js";

const FORMAT = replayCommand.progressFormat as string;
const values = { percentage: 45, value: 1234, total: 98765, sent: 123456, failed: 7, rate: 812, eta_formatted: "3m05s" };

describe("progress line on a terminal of any width", () => {
  it("a wide terminal shows every field and a 40-column bar", () => {
    const line = progressLine(FORMAT, values, 0.45, 200);
    expect(line).toBe(`replay |${"█".repeat(18)}${"░".repeat(22)}| 45% | objects 1234/98765 | sent 123456 | failed 7 | 812 msg/s | ETA 3m05s`);
  });

  const tokens = (line: string) => line.replace(/[█░]+/g, "").split(/[\s|]+/).filter(Boolean);

  it.each([120, 100, 80, 60, 50, 40, 30, 20, 12, 9, 8, 3])("%i columns: no wider than the terminal, every figure whole", (columns) => {
    const line = progressLine(FORMAT, values, 0.45, columns);
    expect(line.length).toBeLessThan(columns);
    // Whatever is shown is a whole token of the full line: nothing cut mid-number.
    const full = new Set(tokens(progressLine(FORMAT, values, 0.45, 1000)));
    for (const t of tokens(line)) expect(full.has(t), `${JSON.stringify(t)} in ${JSON.stringify(line)}`).toBe(true);
    if (columns >= 12) expect(line).toMatch(/\b45%/);
  });

  it("fields are dropped from the right before the percentage", () => {
    const line = progressLine(FORMAT, values, 0.45, 60);
    expect(line).toMatch(/^replay \|[█░]{10,}\| 45% \| objects 1234\/98765/);
    expect(line).not.toContain("ETA");
  });

  it("the bar reflects the progress: empty at 0, full at 1", () => {
    expect(progressLine("{bar}", {}, 0, 12)).toBe("░".repeat(11));
    expect(progressLine("x |{bar}| y", {}, 1, 100)).toBe(`x |${"█".repeat(40)}| y`);
  });
});
