import pg from "pg";
import { PG_URL } from "./services.js";

let n = 0;
/** A schema name no other test (or worker, or concurrent run) uses. */
export const freshSchema = (tag = "t"): string =>
  `tl_${tag}_${process.pid}_${Date.now().toString(36)}_${++n}`;

/** Runs one statement on the test database through a short-lived client. */
export async function pgAdmin<T extends pg.QueryResultRow = pg.QueryResultRow>(
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await pgAdmin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}
