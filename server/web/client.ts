/**
 * The browser app (client/, built by `npm run build` into dist/client): its files as they are, and
 * index.html for every other page address (`/`, `/login`, `/invite`, `/labs/<id>`, `/reviews`...),
 * so the app's own router takes over. Hashed assets (`/assets/*`) are cached for a year, index.html
 * never. The security headers (security.ts) apply as to any answer: the app has no inline script,
 * its styles and its socket.io connection are same-origin.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import express, { Router } from "express";
import { distRoot } from "../paths.js";

export const CLIENT_DIR = path.join(distRoot, "client");

/** Paths the app never answers with index.html: the API, socket.io and health check keep their own 404s. */
const NOT_PAGES = /^\/(api|socket\.io|healthz)(\/|$)/;

export function clientRoutes(dir: string = CLIENT_DIR): Router {
  const r = Router();
  const index = path.join(dir, "index.html");
  r.use(
    "/assets",
    express.static(path.join(dir, "assets"), {
      index: false,
      fallthrough: true,
      immutable: true,
      maxAge: 365 * 24 * 3_600_000,
    }),
  );
  r.use(express.static(dir, { index: false, fallthrough: true, maxAge: 0, setHeaders: (res) => res.setHeader("Cache-Control", "no-cache") }));
  r.get(/.*/, (req, res, next) => {
    if (NOT_PAGES.test(req.path) || path.extname(req.path) !== "" || !req.accepts("html")) return next();
    if (!existsSync(index)) {
      res.status(503).type("text/plain").send("The browser app is not built. Run `npm run build`, then reload.\n");
      return;
    }
    res.setHeader("Cache-Control", "no-cache");
    res.sendFile(index);
  });
  return r;
}
