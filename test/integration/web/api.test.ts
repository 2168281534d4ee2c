/**
 * The lab server's HTTP API without sandboxes: errors as JSON, headers, the first admin, sessions,
 * CSRF, login limits, invites, roles, users, labs. The real server (startServer) on port 0 with a real
 * SQLite in a temp data directory.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client, firstAdmin, invited, PASSWORD, startTestServer, type TestServer } from "./helpers.js";

let server: TestServer;
let admin: Client;
before(async () => {
  server = await startTestServer({
    labs: ["webhook-to-kernel", "small-ok"],
    trustProxy: true,
    loginLimits: { perIp: { max: 4, windowMs: 60_000 }, perAccount: { max: 3, windowMs: 60_000 } },
  });
  admin = await firstAdmin(server);
});
after(() => server.stop());

const errorShape = (body: any, code: string) => {
  assert.equal(typeof body?.error?.message, "string", JSON.stringify(body));
  assert.equal(body.error.code, code, JSON.stringify(body));
};

describe("errors are JSON", () => {
  it("GET /healthz answers without a session", async () => {
    const r = await new Client(server.url).get("/healthz");
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: "ok", database: "sqlite", sandboxes: { live: 0, max: 20 } });
  });

  it("an unknown API route is a JSON 404, so is any other unknown path", async () => {
    const c = new Client(server.url);
    const r = await c.get("/api/no/such/thing");
    assert.equal(r.status, 404);
    errorShape(r.body, "not_found");
    assert.match(r.body.error.message, /GET \/api\/no\/such\/thing/);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
    const r2 = await c.request("DELETE", "/elsewhere");
    assert.equal(r2.status, 404);
    errorShape(r2.body, "not_found");
  });

  it("a malformed JSON body is a 400 JSON error, before and after signing in", async () => {
    for (const c of [new Client(server.url), admin]) {
      const r = await c.request("POST", "/api/auth/login", { raw: '{"email": "a@b.c", ', headers: { "content-type": "application/json" } });
      assert.equal(r.status, 400);
      errorShape(r.body, "malformed_json");
    }
  });

  it("a body that is not JSON is refused with 415; too large a body with 413", async () => {
    const c = new Client(server.url);
    const form = await c.request("POST", "/api/auth/login", { raw: "email=a&password=b", headers: { "content-type": "application/x-www-form-urlencoded" } });
    assert.equal(form.status, 415);
    errorShape(form.body, "unsupported_media_type");
    const big = await c.post("/api/auth/login", { email: "a@example.com", password: "x".repeat(70 * 1024) });
    assert.equal(big.status, 413);
    errorShape(big.body, "too_large");
  });

  it("a body that fails its schema names the field", async () => {
    const r = await new Client(server.url).post("/api/auth/login", { email: "a@example.com" });
    assert.equal(r.status, 400);
    errorShape(r.body, "invalid");
    assert.match(r.body.error.message, /^password: /);
  });

  it("security headers on every answer; no X-Powered-By; API answers are not cached", async () => {
    const r = await new Client(server.url).get("/api/nothing");
    assert.match(r.headers.get("content-security-policy") ?? "", /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    assert.equal(r.headers.get("x-frame-options"), "DENY");
    assert.equal(r.headers.get("referrer-policy"), "no-referrer");
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal(r.headers.get("x-powered-by"), null);
    assert.equal(r.headers.get("strict-transport-security"), null, "plain http: no HSTS");
    const behindHttps = await new Client(server.url).get("/healthz", { "x-forwarded-proto": "https" });
    assert.match(behindHttps.headers.get("strict-transport-security") ?? "", /max-age=/);
  });
});

describe("first admin and sessions", () => {
  it("the setup link was printed once, works once, and is gone once an admin exists", async () => {
    assert.match(server.printed.join(""), new RegExp(`${server.url}/invite#${server.setup!.token}`));
    const again = await new Client(server.url).post("/api/invites/accept", { token: server.setup!.token, email: "second@example.com", name: "X", password: PASSWORD });
    assert.equal(again.status, 410);
    errorShape(again.body, "invite_invalid");
  });

  it("login sets an httpOnly SameSite=Lax session cookie and a readable CSRF cookie; me and logout", async () => {
    const c = new Client(server.url);
    const r = await c.post("/api/auth/login", { email: "ADMIN@example.com", password: PASSWORD });
    assert.equal(r.status, 200);
    assert.equal(r.body.user.role, "admin");
    const cookies = r.headers.getSetCookie();
    const session = cookies.find((x) => x.startsWith("faultline_session="))!;
    assert.match(session, /HttpOnly/);
    assert.match(session, /SameSite=Lax/);
    assert.doesNotMatch(session, /Secure/, "plain http: not Secure");
    const csrf = cookies.find((x) => x.startsWith("faultline_csrf="))!;
    assert.doesNotMatch(csrf, /HttpOnly/);
    assert.equal(r.body.csrfToken, c.csrf);
    const me = await c.get("/api/auth/me");
    assert.equal(me.body.user.email, "admin@example.com");
    assert.equal(me.body.csrfToken, c.csrf);
    assert.equal((await c.post("/api/auth/logout")).status, 204);
    assert.equal((await c.get("/api/auth/me")).status, 401);
  });

  it("behind https (a trusted proxy says so) the cookies are Secure", async () => {
    const c = new Client(server.url);
    const r = await c.post("/api/auth/login", { email: "admin@example.com", password: PASSWORD }, { headers: { "x-forwarded-proto": "https" } });
    assert.equal(r.status, 200);
    for (const cookie of r.headers.getSetCookie()) assert.match(cookie, /; Secure/);
  });

  it("a stale session cookie is just signed out", async () => {
    const c = new Client(server.url);
    c.cookies.set("faultline_session", "not-a-session");
    const r = await c.get("/api/auth/me");
    assert.equal(r.status, 401);
    errorShape(r.body, "unauthenticated");
  });
});

describe("CSRF", () => {
  it("a signed-in state change without the CSRF token, or with a wrong one, is refused", async () => {
    for (const csrf of [false, "wrong-token"] as const) {
      const r = await admin.post("/api/admin/invites", { role: "trainee" }, { csrf });
      assert.equal(r.status, 403, String(csrf));
      errorShape(r.body, "csrf");
    }
    assert.equal((await admin.post("/api/admin/invites", { role: "trainee" })).status, 201, "with the token it works");
  });

  it("a request from another origin is refused, signed in or not", async () => {
    const r = await admin.post("/api/admin/invites", { role: "trainee" }, { headers: { origin: "https://evil.example" } });
    assert.equal(r.status, 403);
    errorShape(r.body, "csrf");
    const login = await new Client(server.url).post("/api/auth/login", { email: "admin@example.com", password: PASSWORD }, { headers: { origin: "https://evil.example" } });
    assert.equal(login.status, 403);
  });

  it("GETs need no token", async () => {
    assert.equal((await admin.get("/api/admin/users")).status, 200);
  });
});

describe("login rate limits", () => {
  it("per account: after 3 failures even the right password waits, with Retry-After", async () => {
    await invited(server, admin, "trainee", "limited@example.com");
    const c = new Client(server.url);
    for (let i = 0; i < 3; i++) {
      const r = await c.post("/api/auth/login", { email: "limited@example.com", password: "wrong password" }, { headers: { "x-forwarded-for": `10.0.0.${i}` } });
      assert.equal(r.status, 401);
      errorShape(r.body, "bad_credentials");
    }
    const r = await c.post("/api/auth/login", { email: "limited@example.com", password: PASSWORD }, { headers: { "x-forwarded-for": "10.0.0.99" } });
    assert.equal(r.status, 429);
    errorShape(r.body, "rate_limited");
    assert.match(r.body.error.message, /for this account/);
    assert.ok(Number(r.headers.get("retry-after")) > 0);
  });

  it("per address: after 4 failures from one address, every account waits there, others not", async () => {
    const c = new Client(server.url);
    const from = { "x-forwarded-for": "192.0.2.7" };
    for (let i = 0; i < 4; i++) {
      const r = await c.post("/api/auth/login", { email: `nobody${i}@example.com`, password: "whatever1234" }, { headers: from });
      assert.equal(r.status, 401, "an unknown account reads like a wrong password");
    }
    const r = await c.post("/api/auth/login", { email: "admin@example.com", password: PASSWORD }, { headers: from });
    assert.equal(r.status, 429);
    assert.match(r.body.error.message, /from this address/);
    const elsewhere = await c.post("/api/auth/login", { email: "admin@example.com", password: PASSWORD }, { headers: { "x-forwarded-for": "192.0.2.8" } });
    assert.equal(elsewhere.status, 200);
  });
});

describe("invites and users", () => {
  it("an invite is single use, can be bound to an email, and can be revoked", async () => {
    const inv = await admin.post("/api/admin/invites", { role: "reviewer", email: "rev@example.com", expiresIn: "2d" });
    assert.equal(inv.status, 201);
    assert.equal(inv.body.url, `${server.url}/invite#${inv.body.token}`);
    const lookup = await new Client(server.url).post("/api/invites/lookup", { token: inv.body.token });
    assert.deepEqual([lookup.body.role, lookup.body.email], ["reviewer", "rev@example.com"]);
    const wrong = await new Client(server.url).post("/api/invites/accept", { token: inv.body.token, email: "other@example.com", name: "O", password: PASSWORD });
    assert.equal(wrong.status, 403);
    const ok = await new Client(server.url).post("/api/invites/accept", { token: inv.body.token, email: "rev@example.com", name: "Rev", password: PASSWORD });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.user.role, "reviewer");
    const twice = await new Client(server.url).post("/api/invites/accept", { token: inv.body.token, email: "rev@example.com", name: "Rev", password: PASSWORD });
    assert.equal(twice.status, 410);

    const revoked = await admin.post("/api/admin/invites", { role: "trainee" });
    assert.equal((await admin.request("DELETE", `/api/admin/invites/${revoked.body.invite.id}`)).status, 204);
    const late = await new Client(server.url).post("/api/invites/accept", { token: revoked.body.token, email: "late@example.com", name: "L", password: PASSWORD });
    assert.equal(late.status, 410);
    const list = await admin.get("/api/admin/invites");
    assert.ok(list.body.invites.every((i: Record<string, unknown>) => !("token" in i) && !("tokenHash" in i)), "tokens are never listed");
  });

  it("a short password is refused, naming the rule", async () => {
    const inv = await admin.post("/api/admin/invites", { role: "trainee" });
    const r = await new Client(server.url).post("/api/invites/accept", { token: inv.body.token, email: "short@example.com", name: "S", password: "short" });
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /password: use at least 10 characters/);
  });

  it("roles: trainees and reviewers cannot administer; nobody signed out can see labs", async () => {
    const trainee = await invited(server, admin, "trainee", "t-roles@example.com");
    const reviewer = await invited(server, admin, "reviewer", "r-roles@example.com");
    for (const c of [trainee, reviewer]) {
      const r = await c.get("/api/admin/users");
      assert.equal(r.status, 403);
      errorShape(r.body, "forbidden");
      assert.equal((await c.post("/api/admin/invites", { role: "admin" })).status, 403);
    }
    const anon = await new Client(server.url).get("/api/labs");
    assert.equal(anon.status, 401);
    errorShape(anon.body, "unauthenticated");
    assert.equal((await trainee.get("/api/attempts?user=all")).status, 403, "trainees list their own attempts only");
    assert.equal((await reviewer.get("/api/attempts?user=all")).status, 200);
  });

  it("an admin changes roles and disables users (who are signed out at once); the last admin stays", async () => {
    const t = await invited(server, admin, "trainee", "t-admin@example.com");
    const me = (await t.get("/api/auth/me")).body.user;
    const promoted = await admin.request("PATCH", `/api/admin/users/${me.id}`, { json: { role: "reviewer" } });
    assert.equal(promoted.body.user.role, "reviewer");
    const disabled = await admin.request("PATCH", `/api/admin/users/${me.id}`, { json: { disabled: true } });
    assert.ok(disabled.body.user.disabledAt);
    assert.equal((await t.get("/api/auth/me")).status, 401, "signed out everywhere");
    const relogin = await new Client(server.url).post("/api/auth/login", { email: "t-admin@example.com", password: PASSWORD }, { headers: { "x-forwarded-for": "198.51.100.1" } });
    assert.equal(relogin.status, 401);
    const self = (await admin.get("/api/auth/me")).body.user;
    const last = await admin.request("PATCH", `/api/admin/users/${self.id}`, { json: { role: "trainee" } });
    assert.equal(last.status, 409);
    assert.match(last.body.error.message, /last admin/);
  });
});

describe("labs", () => {
  it("lists the labs with title, level and duration", async () => {
    const r = await admin.get("/api/labs");
    assert.equal(r.status, 200);
    const flagship = r.body.labs.find((l: { id: string }) => l.id === "webhook-to-kernel");
    assert.equal(flagship.level, "advanced");
    assert.equal(flagship.duration, "90m");
    assert.equal(flagship.durationMs, 90 * 60_000);
    assert.match(flagship.title, /webhook/);
    assert.deepEqual(r.body.labs.map((l: { id: string }) => l.id), ["small-ok", "webhook-to-kernel"]);
  });

  it("one lab: instructions as sanitized HTML, code blocks for pasting, no hint texts, no checks", async () => {
    const r = await admin.get("/api/labs/webhook-to-kernel");
    assert.equal(r.status, 200);
    const lab = r.body.lab;
    assert.match(lab.html, /<h1>The webhook that timed out<\/h1>/);
    assert.ok(lab.codeBlocks.length > 0);
    for (const b of lab.codeBlocks) assert.match(lab.html, new RegExp(`data-code-block="${b.index}"`));
    assert.doesNotMatch(lab.html, /<script|javascript:/i);
    assert.equal(lab.objectiveList[0].id, "pool-admitted");
    assert.ok(lab.hints.every((h: Record<string, unknown>) => !("text" in h)));
    assert.doesNotMatch(JSON.stringify(lab), /kube_network_node_prefix, equals/);
    const missing = await admin.get("/api/labs/nope");
    assert.equal(missing.status, 404);
    errorShape(missing.body, "not_found");
  });
});
