import { parseArgs } from "node:util";
import { ThreadlineError } from "../core/errors.js";
import { configuredExpiryAction } from "../core/expiry-settings.js";
import type { ExpiryAction } from "../core/interrupt-expiry.js";
import type { JwtOptions } from "../http/access/jwt.js";
import { isLoopbackHost, originPolicy } from "../http/origin-policy.js";

import { DEFAULT_STORE } from "./store-spec.js";

export interface ServeArgs {
  host: string;
  port: number;
  store: string;
  /** Where `store` came from: the command line and the environment win over the config file. */
  storeFrom: "flag" | "env" | "default";
  config?: string;
  token?: string;
  insecure: boolean;
  demo: boolean;
  logLevel: string;
  graceMs: number;
  /** Run lease (recovery bound across instances); unset: the config file's or 15 s. */
  leaseMs?: number;
  instanceId?: string;
  /** Demo heartbeat interval; 0 turns it off. */
  heartbeatMs: number;
  /** Key of the CopilotKit surface's join tokens (the same on every instance). */
  copilotkitSecret?: string;
  /** Web origins allowed to call the API (`*` for any); unset: the config file's, or none. */
  cors?: string;
  /** Extra Host names a loopback server answers to. */
  allowedHosts?: string[];
  /** Per-user access: users' JWTs (from the flags or the environment). */
  jwt?: JwtOptions;
  /** What an interrupt's expiry does by default (PROTOCOL.md §3.1.7). */
  interruptExpiry?: ExpiryAction;
  /** The server's default retention and its sweep interval (README "Retention"). */
  retention?: {
    keepRuns?: number;
    maxAgeMs?: number;
    deleteIdleAfterMs?: number;
    sweepMs?: number;
    reclaimAfterRows?: number;
  };
}

export const USAGE = `Usage: threadline serve [options]
       threadline --version

Settings come from the command line first, then the environment, then the config file.

Options:
  --host <host>       interface to bind (default 127.0.0.1)
  --port <port>       port (default 8787; env PORT)
  --store <spec>      memory: | sqlite:<path> | postgres://... | redis://...
                      (default ${DEFAULT_STORE}; env THREADLINE_STORE)
  --config <file>     config module (agents, schedules, hooks); default ./threadline.config.{ts,js,mjs} if present
  --token <token>     require "Authorization: Bearer <token>" (env THREADLINE_TOKEN)
  --cors <origins>    web pages allowed to call the API from a browser, comma-separated
                      (http://localhost:5173,...), or * for any (default: none but the
                      server's own; env THREADLINE_CORS)
  --allowed-hosts <h> extra Host names a loopback server answers to, comma-separated (it
                      refuses other names: DNS rebinding; env THREADLINE_ALLOWED_HOSTS)
  --jwt-secret <s>    per-user access: accept users' HS256 JWTs signed with this secret
                      (at least 32 characters; env THREADLINE_JWT_SECRET)
  --jwks-url <url>    per-user access: accept users' JWTs signed by a key of this JWKS
                      (env THREADLINE_JWKS_URL)
  --jwt-issuer <iss>  accepted JWT issuer(s), comma-separated (env THREADLINE_JWT_ISSUER)
  --jwt-audience <a>  accepted JWT audience(s), comma-separated (env THREADLINE_JWT_AUDIENCE)
  --jwt-clock-skew <s>
                      clock skew tolerated on exp/nbf, seconds (default 30;
                      env THREADLINE_JWT_CLOCK_SKEW)
  --insecure          allow a non-loopback host without a token or JWT auth
  --no-demo           do not register the built-in demo agent and heartbeat
  --heartbeat-ms <ms> demo heartbeat on thread "demo" (default 30000; 0 = off; env THREADLINE_DEMO_HEARTBEAT_MS)
  --log-level <lvl>   pino level (default info; env LOG_LEVEL)
  --grace-ms <ms>     on SIGTERM/SIGINT, how long runs may finish before they are interrupted (default 5000)
  --lease-ms <ms>     run lease: a dead instance's runs are closed within about 1.5x this
                      (default 15000; env THREADLINE_LEASE_MS)
  --instance-id <id>  this instance's name in run leases (default host:pid:random;
                      env THREADLINE_INSTANCE_ID)
  --retention-runs <n>
                      default retention: keep each thread's newest n runs (env
                      THREADLINE_RETENTION_RUNS; a thread or schedule may say otherwise)
  --retention-max-age-ms <ms>
                      default retention: drop runs that ended more than ms ago
                      (env THREADLINE_RETENTION_MAX_AGE_MS)
  --retention-idle-ms <ms>
                      delete threads idle for more than ms (env THREADLINE_RETENTION_IDLE_MS)
  --retention-sweep-ms <ms>
                      how often retention is applied (default 60000; env
                      THREADLINE_RETENTION_SWEEP_MS)
  --retention-reclaim-rows <n>
                      PostgreSQL: VACUUM the store's tables after the sweep removed n rows
                      (default 2000; 0 = never, leave it to autovacuum; env
                      THREADLINE_RETENTION_RECLAIM_ROWS)
  --interrupt-expiry <resume|record>
                      what an expired interrupt does: resume the agent with it cancelled
                      (default) or only record it (env THREADLINE_INTERRUPT_EXPIRY; per agent and
                      per thread in the config / metadata)
  --copilotkit-secret <s>
                      key of the join tokens of the CopilotKit surface (/copilotkit); give every
                      instance the same one (env THREADLINE_COPILOTKIT_SECRET; default: derived
                      from --token)
  -h, --help          show this help
  -v, --version       print the version
`;

export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv): ServeArgs {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      store: { type: "string" },
      config: { type: "string" },
      token: { type: "string" },
      insecure: { type: "boolean", default: false },
      "no-demo": { type: "boolean", default: false },
      "log-level": { type: "string" },
      "grace-ms": { type: "string" },
      "lease-ms": { type: "string" },
      "instance-id": { type: "string" },
      "heartbeat-ms": { type: "string" },
      "copilotkit-secret": { type: "string" },
      "interrupt-expiry": { type: "string" },
      cors: { type: "string" },
      "allowed-hosts": { type: "string" },
      "retention-runs": { type: "string" },
      "retention-max-age-ms": { type: "string" },
      "retention-idle-ms": { type: "string" },
      "retention-sweep-ms": { type: "string" },
      "retention-reclaim-rows": { type: "string" },
      "jwt-secret": { type: "string" },
      "jwks-url": { type: "string" },
      "jwt-issuer": { type: "string" },
      "jwt-audience": { type: "string" },
      "jwt-clock-skew": { type: "string" },
    },
  });
  const jwt = jwtArgs(values, env);
  const retention: NonNullable<ServeArgs["retention"]> = {};
  const retentionFlags = [
    ["retention-runs", "THREADLINE_RETENTION_RUNS", "keepRuns"],
    ["retention-max-age-ms", "THREADLINE_RETENTION_MAX_AGE_MS", "maxAgeMs"],
    ["retention-idle-ms", "THREADLINE_RETENTION_IDLE_MS", "deleteIdleAfterMs"],
    ["retention-sweep-ms", "THREADLINE_RETENTION_SWEEP_MS", "sweepMs"],
    ["retention-reclaim-rows", "THREADLINE_RETENTION_RECLAIM_ROWS", "reclaimAfterRows"],
  ] as const;
  for (const [flag, name, key] of retentionFlags) {
    const text = values[flag] ?? env[name];
    if (text === undefined) continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) {
      throw new ThreadlineError(
        "BAD_REQUEST",
        `--${flag} must be a non-negative integer, got '${text}'`,
      );
    }
    retention[key] = n;
  }
  const portText = values.port ?? env.PORT ?? "8787";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ThreadlineError(
      "BAD_REQUEST",
      `--port must be an integer 0-65535, got '${portText}'`,
    );
  }
  const graceMs = Number(values["grace-ms"] ?? "5000");
  if (!Number.isInteger(graceMs) || graceMs < 0) {
    throw new ThreadlineError(
      "BAD_REQUEST",
      `--grace-ms must be a non-negative integer, got '${values["grace-ms"]}'`,
    );
  }
  const leaseText = values["lease-ms"] ?? env.THREADLINE_LEASE_MS;
  const leaseMs = leaseText === undefined ? undefined : Number(leaseText);
  if (leaseMs !== undefined && (!Number.isInteger(leaseMs) || leaseMs < 500)) {
    throw new ThreadlineError(
      "BAD_REQUEST",
      `--lease-ms must be an integer of at least 500, got '${leaseText}'`,
    );
  }
  const instanceId = values["instance-id"] ?? env.THREADLINE_INSTANCE_ID;
  const heartbeatText = values["heartbeat-ms"] ?? env.THREADLINE_DEMO_HEARTBEAT_MS ?? "30000";
  const heartbeatMs = Number(heartbeatText);
  if (
    !Number.isInteger(heartbeatMs) ||
    heartbeatMs < 0 ||
    (heartbeatMs > 0 && heartbeatMs < 1000)
  ) {
    throw new ThreadlineError(
      "BAD_REQUEST",
      `--heartbeat-ms must be 0 (off) or an integer >= 1000, got '${heartbeatText}'`,
    );
  }
  const copilotkitSecret = values["copilotkit-secret"] ?? env.THREADLINE_COPILOTKIT_SECRET;
  const interruptExpiry = configuredExpiryAction([
    ["--interrupt-expiry", values["interrupt-expiry"]],
    ["THREADLINE_INTERRUPT_EXPIRY", env.THREADLINE_INTERRUPT_EXPIRY],
  ]);
  const host = values.host ?? env.HOST ?? "127.0.0.1";
  const token = values.token ?? env.THREADLINE_TOKEN ?? undefined;
  const insecure = values.insecure === true;
  if (!isLoopbackHost(host) && !token && !jwt && !insecure) {
    throw new ThreadlineError(
      "BAD_REQUEST",
      `refusing to bind ${host} without a token: anyone on the network could run agents. ` +
        "Set --token / THREADLINE_TOKEN (or JWT auth: --jwt-secret / --jwks-url), or pass " +
        "--insecure if that is really what you want.",
    );
  }
  const cors = values.cors ?? env.THREADLINE_CORS;
  // Checked now: a typo in an origin should stop the start, not every request of the page.
  if (cors !== undefined) originPolicy(cors);
  const hostsText = values["allowed-hosts"] ?? env.THREADLINE_ALLOWED_HOSTS;
  const allowedHosts = hostsText
    ?.split(",")
    .map((h) => h.trim())
    .filter((h) => h !== "");
  return {
    host,
    port,
    ...(cors === undefined ? {} : { cors }),
    ...(allowedHosts?.length ? { allowedHosts } : {}),
    store: values.store ?? env.THREADLINE_STORE ?? DEFAULT_STORE,
    storeFrom: values.store !== undefined ? "flag" : env.THREADLINE_STORE ? "env" : "default",
    ...(values.config ? { config: values.config } : {}),
    ...(token ? { token } : {}),
    insecure,
    demo: values["no-demo"] !== true,
    logLevel: values["log-level"] ?? env.LOG_LEVEL ?? "info",
    graceMs,
    ...(leaseMs === undefined ? {} : { leaseMs }),
    ...(instanceId ? { instanceId } : {}),
    heartbeatMs: values["no-demo"] === true ? 0 : heartbeatMs,
    ...(copilotkitSecret ? { copilotkitSecret } : {}),
    ...(interruptExpiry === undefined ? {} : { interruptExpiry }),
    ...(Object.keys(retention).length > 0 ? { retention } : {}),
    ...(jwt ? { jwt } : {}),
  };
}

const list = (text: string | undefined): string[] | undefined => {
  const items = text
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return items?.length ? items : undefined;
};

/** `--jwt-*` / `--jwks-url` (or their environment variables) as `JwtOptions`. */
function jwtArgs(
  values: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): JwtOptions | undefined {
  const text = (flag: string, name: string) => {
    const v = values[flag];
    return typeof v === "string" ? v : env[name];
  };
  const secret = text("jwt-secret", "THREADLINE_JWT_SECRET");
  const jwksUrl = text("jwks-url", "THREADLINE_JWKS_URL");
  const issuer = list(text("jwt-issuer", "THREADLINE_JWT_ISSUER"));
  const audience = list(text("jwt-audience", "THREADLINE_JWT_AUDIENCE"));
  const skewText = text("jwt-clock-skew", "THREADLINE_JWT_CLOCK_SKEW");
  if (!secret && !jwksUrl) {
    if (issuer || audience || skewText) {
      throw new ThreadlineError(
        "BAD_REQUEST",
        "--jwt-issuer, --jwt-audience and --jwt-clock-skew need --jwt-secret or --jwks-url",
      );
    }
    return undefined;
  }
  if (secret && jwksUrl) {
    throw new ThreadlineError("BAD_REQUEST", "give one of --jwt-secret and --jwks-url, not both");
  }
  const skew = skewText === undefined ? undefined : Number(skewText);
  if (skew !== undefined && (!Number.isInteger(skew) || skew < 0)) {
    throw new ThreadlineError(
      "BAD_REQUEST",
      `--jwt-clock-skew must be a non-negative integer (seconds), got '${skewText}'`,
    );
  }
  return {
    ...(secret ? { secret } : {}),
    ...(jwksUrl ? { jwksUrl } : {}),
    ...(issuer ? { issuer } : {}),
    ...(audience ? { audience } : {}),
    ...(skew === undefined ? {} : { clockToleranceSec: skew }),
  };
}
