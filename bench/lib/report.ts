/**
 * Results: each scenario adds sections (a title, a table, notes) and targets (met / not met /
 * not measured); the orchestrator prints them and writes bench/RESULTS.md.
 */
export type Cell = string | number;

export interface Section {
  title: string;
  intro?: string;
  headers: string[];
  rows: Cell[][];
  notes?: string[];
}

export interface Target {
  scenario: string;
  text: string;
  measured: string;
  /** null: could not be measured in this run (say why in `measured`). */
  met: boolean | null;
}

export class Report {
  readonly sections: Section[] = [];
  readonly targets: Target[] = [];
  readonly errors: string[] = [];
  readonly profiles: string[] = [];

  section(s: Section): void {
    this.sections.push(s);
    process.stdout.write(`\n${renderConsole(s)}\n`);
  }

  target(t: Target): void {
    this.targets.push(t);
    process.stdout.write(`  target ${mark(t.met)}: ${t.text} — ${t.measured}\n`);
  }
}

export function mark(met: boolean | null): string {
  return met === null ? "not measured" : met ? "met" : "NOT MET";
}

export function fmt(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return "—";
  return x.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function renderConsole(s: Section): string {
  const all = [s.headers, ...s.rows.map((r) => r.map(String))];
  const widths = s.headers.map((_, i) => Math.max(...all.map((r) => String(r[i] ?? "").length)));
  const line = (r: Cell[]) =>
    r
      .map((c, i) =>
        typeof c === "number" || /^[\d.,×x%—-]+/.test(String(c))
          ? String(c).padStart(widths[i]!)
          : String(c).padEnd(widths[i]!),
      )
      .join("  ");
  const out = [`== ${s.title}`, line(s.headers), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const r of s.rows) out.push(line(r));
  for (const n of s.notes ?? []) out.push(`   ${n}`);
  return out.join("\n");
}

export function renderMarkdownTable(s: Section): string {
  const esc = (c: Cell) => String(c).replace(/\|/g, "\\|");
  const out = [
    `| ${s.headers.map(esc).join(" | ")} |`,
    `|${s.headers.map(() => "---").join("|")}|`,
  ];
  for (const r of s.rows) out.push(`| ${r.map(esc).join(" | ")} |`);
  return out.join("\n");
}
