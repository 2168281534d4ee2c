/**
 * Debian's Chromium (`apt-get install chromium`, which scripts/bootstrap.sh does when CI=true or
 * FAULTLINE_E2E=1) driven by playwright-core, which downloads no browser of its own. Without the
 * browser the e2e tests are skipped with that reason, except under CI=true, where it is a failure.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env.FAULTLINE_CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const why = `no Chromium at ${CHROMIUM}: run FAULTLINE_E2E=1 npm run bootstrap (installs Debian's chromium)`;
  if (process.env.CI === "true") throw new Error(why);
  return why;
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root (CI) cannot use Chromium's setuid sandbox; the pages are our own app on loopback.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}
