/**
 * The browser app as the server serves it (dist/client, built by `npm run build`): index.html for the
 * app's pages, hashed assets cached for good, the security headers on all of it, no inline script
 * for the CSP to refuse, and the API's and socket.io's own answers left alone. Also GET /api/curricula.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CLIENT_DIR } from "../../../server/web/client.js";
import { Client, firstAdmin, startTestServer, type TestServer } from "./helpers.js";

describe("the browser app's files", { skip: existsSync(path.join(CLIENT_DIR, "index.html")) ? false : "dist/client is not built (npm run build)" }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s?.stop();
  });

  it("serves index.html for the app's pages, with the CSP and no inline script", async () => {
    for (const page of ["/", "/login", "/invite", "/labs/small-ok", "/labs/unknown"]) {
      const r = await fetch(s.url + page, { headers: { accept: "text/html" } });
      assert.equal(r.status, 200, page);
      assert.match(r.headers.get("content-type") ?? "", /text\/html/);
      assert.equal(r.headers.get("cache-control"), "no-cache");
      const csp = r.headers.get("content-security-policy") ?? "";
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/, "no unsafe-inline or eval for scripts");
      assert.match(csp, /connect-src 'self'/, "socket.io connects to the same origin");
      assert.equal(r.headers.get("x-frame-options"), "DENY");
      const html = await r.text();
      assert.match(html, /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/);
      assert.doesNotMatch(html.replace(/<script[^>]*src="[^"]+"[^>]*><\/script>/g, ""), /<script/i, "every script is a file");
      assert.doesNotMatch(html, /\son[a-z]+=/i, "no inline event handlers");
    }
  });

  it("serves hashed assets cached for a year, and 404s (as JSON) what does not exist", async () => {
    const asset = readdirSync(path.join(CLIENT_DIR, "assets")).find((f) => f.endsWith(".js"))!;
    const r = await fetch(`${s.url}/assets/${asset}`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /javascript/);
    assert.match(r.headers.get("cache-control") ?? "", /max-age=31536000.*immutable/);
    assert.ok(r.headers.get("content-security-policy"));
    for (const p of ["/assets/nope.js", "/nope.png", "/api/nope", "/healthz/x"]) {
      const n = await fetch(s.url + p, { headers: { accept: "text/html" } });
      assert.equal(n.status, 404, p);
      assert.match(n.headers.get("content-type") ?? "", /application\/json/, p);
    }
    const api = await fetch(`${s.url}/api/labs`, { headers: { accept: "text/html" } });
    assert.equal(api.status, 401, "the API keeps its own answers");
  });

  it("lists the curricula for signed-in users", async () => {
    assert.equal((await new Client(s.url).get("/api/curricula")).status, 401);
    const admin = await firstAdmin(s);
    const r = await admin.get("/api/curricula");
    assert.equal(r.status, 200);
    assert.ok(Array.isArray(r.body.curricula));
    for (const c of r.body.curricula as Array<{ id: string; title: string; weeks: unknown[] }>) {
      assert.ok(c.id && c.title && Array.isArray(c.weeks) && c.weeks.length > 0, JSON.stringify(c).slice(0, 200));
    }
  });
});
