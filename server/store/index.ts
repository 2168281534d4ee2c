/**
 * Opens the store: Postgres when a database URL is given, else SQLite at `<dataDir>/faultline.db`.
 * Migrations run on open (idempotent; Kysely's migration lock keeps concurrent starts apart), so a
 * fresh data directory and an upgraded server both find the schema they expect.
 */
import { closeSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type MigrationResultSet } from "kysely";
import pg from "pg";
import { FaultlineError, withContext } from "../errors.js";
import { migrationProvider, type Dialect } from "./migrations.js";
import { KyselyStore, type Store } from "./store.js";
import type { Database } from "./tables.js";

export type { Store } from "./store.js";
export * from "./store.js";
export { ROLES, ATTEMPT_STATES, type Role, type AttemptState } from "./tables.js";

export interface StoreOptions {
  dataDir: string;
  /** postgres://user:pass@host/db; null for SQLite in dataDir. */
  databaseUrl: string | null;
}

export const SQLITE_FILE = "faultline.db";

export async function openStore(opts: StoreOptions): Promise<Store> {
  const { db, dialect } = connect(opts);
  try {
    await migrate(db, dialect);
  } catch (e) {
    await db.destroy().catch(() => {});
    throw withContext(`database (${describe(opts)})`, e);
  }
  return new KyselyStore(db, dialect);
}

/** A Kysely instance on the configured database, without migrating it. */
export function connect(opts: StoreOptions): { db: Kysely<Database>; dialect: Dialect } {
  return opts.databaseUrl ? postgres(opts.databaseUrl) : sqlite(opts.dataDir);
}

/** Applies pending migrations; returns the names applied now (empty when up to date). */
export async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<string[]> {
  const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
  const { error, results }: MigrationResultSet = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Where the data lives, without a password: for logs and error messages. */
export function describe(opts: StoreOptions): string {
  if (!opts.databaseUrl) return `SQLite ${path.join(opts.dataDir, SQLITE_FILE)}`;
  try {
    const u = new URL(opts.databaseUrl);
    return `Postgres ${u.hostname || "(socket)"}${u.port ? ":" + u.port : ""}${u.pathname}`;
  } catch {
    return "Postgres";
  }
}

function sqlite(dataDir: string): { db: Kysely<Database>; dialect: Dialect } {
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  const file = path.join(dataDir, SQLITE_FILE);
  // Created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the same mode): the data
  // directory is traversable by sandbox ids, the database must not be readable by them.
  closeSync(openSync(file, "a", 0o600));
  let database: BetterSqlite3.Database;
  try {
    database = new BetterSqlite3(file);
  } catch (e) {
    throw new FaultlineError(`cannot open the database ${file}: ${(e as Error).message}`, "check that the npm dependency better-sqlite3 is built (npm rebuild better-sqlite3)", { cause: e });
  }
  database.pragma("journal_mode = WAL");
  database.pragma("foreign_keys = ON");
  database.pragma("busy_timeout = 5000");
  return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), dialect: "sqlite" };
}

function postgres(url: string): { db: Kysely<Database>; dialect: Dialect } {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle client losing its connection must not crash the server; the next query reconnects.
  pool.on("error", () => {});
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), dialect: "postgres" };
}
