/**
 * `npm run chaos`: every attack of issue 12 against the real CLI (`threadline serve`, a child
 * process) on SQLite, PostgreSQL and Redis (private servers on free ports, so their restarts
 * disturb nobody), over real HTTP. After each attack it checks four things — the server is alive,
 * an untouched thread's log is byte-identical, every run of every thread ended and its log is
 * valid AG-UI, and the attack got the expected answers — prints a markdown table and exits
 * non-zero if any row fails.
 *
 *   npm run chaos [-- --stores sqlite,postgres,redis] [--only 3,6] [--out file.md]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ATTACKS, type Attack } from "./attacks.js";
import { openBackend, STORES, type StoreName } from "./backends.js";
import { ChaosContext, SENTINEL, writeConfig } from "./context.js";
import { call } from "./http.js";

interface Row {
  store: StoreName;
  attack: Attack;
  alive: boolean;
  intact: boolean;
  runs: string | undefined;
  expected: string;
  got: string;
  statusOk: boolean;
  ms: number;
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const stores = (option("stores")?.split(",") ?? STORES) as StoreName[];
const only = option("only")?.split(",");
const out = option("out");

async function attackStore(store: StoreName, configPath: string): Promise<Row[]> {
  const t0 = Date.now();
  const backend = await openBackend(store);
  const ctx = new ChaosContext(backend, configPath);
  const rows: Row[] = [];
  try {
    await ctx.start();
    log(`${store}: server up on ${ctx.url} (${Date.now() - t0} ms with the store)`);
    for (const attack of ATTACKS) {
      if (!attack.stores.includes(store)) continue;
      if (only && !only.includes(attack.item)) continue;
      const started = Date.now();
      let expected = "";
      let got = "";
      let statusOk = false;
      let dataLoss = false;
      try {
        const o = await attack.run(ctx);
        ({ expected, got } = o);
        statusOk = o.ok;
        dataLoss = o.dataLoss === true;
      } catch (error) {
        got = `threw: ${error instanceof Error ? error.message : String(error)}`;
      }
      const alive = await ctx.alive();
      let intact = false;
      let runs: string | undefined = "server down";
      if (alive && dataLoss) {
        // The store's data is gone by design: nothing may be served in its place.
        const sentinel = await call(ctx.url, `/threads/${SENTINEL}`);
        intact = sentinel.status === 503 && sentinel.body.error?.code === "DATA_LOST";
        runs = undefined; // checked on the follower's stream (the status column)
      } else if (alive) {
        intact = await ctx.intact();
        runs = await ctx.runsValid();
      }
      const row = { store, attack, alive, intact, runs, expected, got, statusOk };
      rows.push({ ...row, ms: Date.now() - started });
      log(
        `${store} #${attack.item} ${attack.name}: ${pass(rows.at(-1)!) ? "pass" : "FAIL"} — ${got}`,
      );
      // The next attack needs a server: an operator restarts one that died or refuses to work.
      if (!alive || dataLoss) await ctx.restart();
    }
  } finally {
    await ctx.stop().catch(() => undefined);
    await backend.destroy().catch(() => undefined);
  }
  log(`${store}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return rows;
}

const pass = (r: Row) => r.alive && r.intact && r.runs === undefined && r.statusOk;
const mark = (ok: boolean) => (ok ? "✓" : "✗");

function table(rows: Row[]): string {
  const lines = [
    "| store | # | attack | alive | data intact | runs ended validly | expected | got | pass | s |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const runs = r.runs === undefined ? "✓" : `✗ ${r.runs}`;
    lines.push(
      `| ${r.store} | ${r.attack.item} | ${r.attack.name} | ${mark(r.alive)} | ${mark(r.intact)} | ${runs} | ${r.expected} | ${r.got.replaceAll("|", "/")} | ${mark(pass(r))} | ${(r.ms / 1000).toFixed(1)} |`,
    );
  }
  return lines.join("\n");
}

function log(line: string): void {
  process.stderr.write(`chaos: ${line}\n`);
}

const dir = mkdtempSync(join(tmpdir(), "threadline-chaos-config-"));
const started = Date.now();
const rows: Row[] = [];
try {
  const configPath = writeConfig(dir);
  for (const store of stores) rows.push(...(await attackStore(store, configPath)));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const failed = rows.filter((r) => !pass(r));
const skipped = stores
  .map((store) => {
    const items = ATTACKS.filter((a) => !a.stores.includes(store)).map(
      (a) => `#${a.item} ${a.name}`,
    );
    return items.length > 0 ? `${store}: ${items.join(", ")}` : "";
  })
  .filter(Boolean);
const legend = [
  "Data intact: the log of an untouched thread is byte-identical to the one before the attacks; on",
  "row 6 the store's data is gone by design, so it means nothing is served in its place (503",
  "DATA_LOST) and the follower's stream, checked in the status column, is valid AG-UI.",
  `Not applicable (no server connection to kill or stop, or Redis only): ${skipped.join("; ") || "none"}.`,
].join("\n");
const text = `${table(rows)}\n\n${legend}\n\n${rows.length - failed.length}/${rows.length} rows pass (${((Date.now() - started) / 1000).toFixed(0)} s)\n`;
process.stdout.write(text);
if (out) writeFileSync(out, text);
process.exit(failed.length === 0 && rows.length > 0 ? 0 : 1);
