/**
 * A throwaway Postgres for the store's tests: TEST_DATABASE_URL if set (a fresh database is created in
 * it and dropped after), else a cluster made with Debian's initdb in a temp folder, listening on a free
 * loopback port, run as the `postgres` user when we are root (initdb refuses root), removed after.
 * Without Postgres the tests are skipped with the reason, except under CI=true, where
 * scripts/bootstrap.sh installs it and its absence is a failure.
 */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";

export interface Postgres {
  url: string;
  stop(): Promise<void>;
}

export type PostgresOrSkip = Postgres | { skip: string };

function findBin(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], "bin") : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function freshDatabase(url: string): Promise<Postgres> {
  const name = `faultline_test_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = "/" + name;
  return {
    url: u.toString(),
    stop: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export async function startPostgres(): Promise<PostgresOrSkip> {
  if (process.env.TEST_DATABASE_URL) return freshDatabase(process.env.TEST_DATABASE_URL);
  const unavailable = (why: string): PostgresOrSkip => {
    if (process.env.CI === "true") throw new Error(`Postgres tests cannot run under CI: ${why} (scripts/bootstrap.sh installs postgresql when CI=true)`);
    return { skip: `no Postgres: ${why}; install Debian's postgresql or set TEST_DATABASE_URL` };
  };
  const bin = findBin();
  if (!bin) return unavailable("initdb not found under /usr/lib/postgresql");
  const asRoot = process.getuid?.() === 0;
  let runAs: string[] = [];
  if (asRoot) {
    try {
      execFileSync("id", ["-u", "postgres"], { stdio: "ignore" });
    } catch {
      return unavailable("no `postgres` user to run it as (initdb refuses root)");
    }
    runAs = ["runuser", "-u", "postgres", "--"];
  }
  const dir = mkdtempSync(path.join(tmpdir(), "faultline-pg-"));
  if (asRoot) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" })), Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" })));
  const data = path.join(dir, "data");
  const run = (cmd: string, args: string[]) => {
    const argv = [...runAs, path.join(bin, cmd), ...args];
    execFileSync(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8" } });
  };
  const port = await freePort();
  try {
    run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
    run("pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, "start"]);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return unavailable(`could not start a cluster: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || String(e)}`);
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
