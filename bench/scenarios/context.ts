import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Options } from "../lib/options.js";
import type { ProfileSummary } from "../lib/profile.js";
import type { Report } from "../lib/report.js";

const PROFILE_DIR = fileURLToPath(new URL("../profiles/", import.meta.url));

/** What every scenario gets: the options, the report, and profile/error bookkeeping. */
export class Context {
  constructor(
    readonly opts: Options,
    readonly report: Report,
    /** Why each store in `opts.stores` cannot be measured (undefined: it can). */
    readonly storeStatus: ReadonlyMap<string, string | undefined>,
  ) {}

  /** Why a store cannot be measured in this run, or undefined when it can. */
  storeUnavailable(name: string): string | undefined {
    return this.storeStatus.has(name) ? this.storeStatus.get(name) : "not probed";
  }

  private readonly started = Date.now();
  private readonly resources = new Map<
    string,
    { value: Promise<unknown>; close: (t: never) => Promise<void> }
  >();

  /**
   * Processes a scenario needs, started once: `run.ts` asks every selected scenario to start
   * its processes up front (in parallel, so start-up costs overlap instead of adding up), and
   * the scenario picks them up here. A failed start surfaces when the scenario awaits it.
   */
  resource<T>(key: string, make: () => Promise<T>, close: (t: T) => Promise<void>): Promise<T> {
    let r = this.resources.get(key);
    if (!r) {
      const value = make();
      value.catch(() => undefined);
      r = { value, close: close as (t: never) => Promise<void> };
      this.resources.set(key, r);
    }
    return r.value as Promise<T>;
  }

  /** Closes (kills) one resource as soon as its scenario is done with it. */
  async release(key: string): Promise<void> {
    const r = this.resources.get(key);
    if (!r) return;
    this.resources.delete(key);
    await r.value.then((t) => r.close(t as never)).catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.resources.keys()].map((k) => this.release(k)));
  }

  /** A progress line on stdout, with the time since the bench started. */
  log(msg: string): void {
    process.stdout.write(`  [${((Date.now() - this.started) / 1000).toFixed(1)}s] ${msg}\n`);
  }

  profileFile(tag: string): string {
    return this.profilePath(`${tag}.cpuprofile`);
  }

  /** A file under bench/profiles/ (git-ignored). */
  profilePath(name: string): string {
    mkdirSync(PROFILE_DIR, { recursive: true });
    return `${PROFILE_DIR}${name.replace(/[^\w.-]+/g, "_")}`;
  }

  /** Adds a profile summary (top frames by self time, src/ by inclusive time) to the report. */
  noteProfile(title: string, p: ProfileSummary | undefined): void {
    if (!p) return;
    const lines = [
      `#### ${title}`,
      "",
      `${p.totalMs.toFixed(0)} ms busy (percentages are of this), ${p.idleMs.toFixed(0)} ms idle; \`${p.file.slice(p.file.lastIndexOf("bench/"))}\``,
      "",
      "| self % | function (self time) | | incl. % | Threadline function (inclusive) |",
      "|---:|---|---|---:|---|",
    ];
    for (let i = 0; i < Math.max(p.self.length, p.inclusive.length) && i < 12; i++) {
      const s = p.self[i];
      const n = p.inclusive[i];
      lines.push(
        `| ${s ? s.pct.toFixed(1) : ""} | ${s ? `\`${s.name}\`` : ""} | | ${n ? n.pct.toFixed(1) : ""} | ${n ? `\`${n.name}\`` : ""} |`,
      );
    }
    lines.push(
      "",
      `By module: ${p.modules
        .slice(0, 8)
        .map((m) => `${m.name} ${m.pct.toFixed(0)}%`)
        .join(", ")}`,
      "",
    );
    this.report.profiles.push(lines.join("\n"));
    process.stdout.write(
      `  profiled: ${title}: ${p.self
        .slice(0, 4)
        .map((f) => `${f.name} ${f.pct.toFixed(0)}%`)
        .join(", ")}\n`,
    );
  }

  /** Records a failed measurement and carries on with the next one. */
  fail(where: string, error: unknown): void {
    const msg = error instanceof Error ? error.message : String(error);
    this.report.errors.push(`${where}: ${msg}`);
    process.stderr.write(`\n!! ${where} failed: ${msg}\n`);
  }
}
