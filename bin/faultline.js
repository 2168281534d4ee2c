#!/usr/bin/env node
// The CLI runs the compiled server (npm run build); say so plainly if it is missing.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../dist/server/main.js", import.meta.url));
if (!existsSync(main)) {
  console.error("faultline: not built yet. Run `npm run build` (or `npm start`, which builds) first.");
  process.exit(1);
}
await import(main);
