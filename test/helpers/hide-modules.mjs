// Makes packages unresolvable in this process, as if they were not installed: `node --import
// <this file>` with HIDE_MODULES="@opentelemetry/api,other" (a package and its subpaths). Used
// to check that optional peer dependencies stay optional (test/package, bench "tracing").
import { register } from "node:module";

const hidden = (process.env.HIDE_MODULES ?? "")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);

if (hidden.length > 0) {
  register(
    `data:text/javascript,${encodeURIComponent(`
      const hidden = ${JSON.stringify(hidden)};
      export async function resolve(specifier, context, next) {
        if (hidden.some((h) => specifier === h || specifier.startsWith(h + "/"))) {
          const error = new Error("Cannot find package '" + specifier + "' (hidden by HIDE_MODULES)");
          error.code = "ERR_MODULE_NOT_FOUND";
          throw error;
        }
        return next(specifier, context);
      }
    `)}`,
  );
}
