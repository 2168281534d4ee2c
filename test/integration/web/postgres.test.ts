/**
 * The same server on Postgres (DATABASE_URL): the first admin, an invite, a login and a lab list go
 * through it. Skipped without Postgres, except under CI=true (see test/unit/store/postgres.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startPostgres, type PostgresOrSkip } from "../../unit/store/postgres.js";
import { Client, firstAdmin, invited, PASSWORD, startTestServer, type TestServer } from "./helpers.js";

let pg: PostgresOrSkip = { skip: "not started" };
let server: TestServer | undefined;
before(async () => {
  pg = await startPostgres();
  if (!("skip" in pg)) server = await startTestServer({ databaseUrl: pg.url });
});
after(async () => {
  await server?.stop();
  if (!("skip" in pg)) await pg.stop();
});

describe("the server on Postgres", () => {
  it("serves accounts and labs from Postgres", async (t) => {
    if ("skip" in pg || !server) return t.skip("skip" in pg ? pg.skip : "no server");
    assert.equal((await new Client(server.url).get("/healthz")).body.database, "postgres");
    const admin = await firstAdmin(server);
    await invited(server, admin, "trainee", "pg-trainee@example.com");
    const c = new Client(server.url);
    await c.login("pg-trainee@example.com", PASSWORD);
    assert.deepEqual((await c.get("/api/labs")).body.labs.map((l: { id: string }) => l.id), ["small-ok"]);
  });
});
