/**
 * The browsers the e2e tests drive, both Debian's own packages (scripts/bootstrap.sh installs them
 * when CI=true or FAULTLINE_E2E=1), neither downloaded by the driving library:
 * - Chromium (`chromium`, /usr/bin/chromium or FAULTLINE_CHROMIUM) with playwright-core;
 * - Firefox ESR (`firefox-esr`, /usr/bin/firefox-esr or FAULTLINE_FIREFOX) with puppeteer-core over
 *   WebDriver BiDi: playwright-core drives only Playwright's own patched Firefox builds. Ubuntu ships
 *   Firefox as a snap, not this package: there, point FAULTLINE_FIREFOX at a Firefox binary.
 * Without a browser its tests are skipped with that reason, except under CI=true, where it is a failure.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import puppeteer, { type Browser as BidiBrowser } from "puppeteer-core";

export const CHROMIUM = process.env.FAULTLINE_CHROMIUM ?? "/usr/bin/chromium";
export const FIREFOX = process.env.FAULTLINE_FIREFOX ?? "/usr/bin/firefox-esr";

/** Why `binary` cannot run here (with how to get it), or null when it can. */
function missing(binary: string, why: string): string | null {
  if (existsSync(binary)) return null;
  if (process.env.CI === "true") throw new Error(why);
  return why;
}

/** Why the Chromium tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  return missing(CHROMIUM, `no Chromium at ${CHROMIUM}: run FAULTLINE_E2E=1 npm run bootstrap (installs Debian's chromium)`);
}

/** Why the Firefox tests cannot run here, or null when they can. */
export function firefoxMissing(): string | null {
  return missing(
    FIREFOX,
    `no Firefox at ${FIREFOX}: run FAULTLINE_E2E=1 npm run bootstrap (installs Debian's firefox-esr), or set FAULTLINE_FIREFOX to a Firefox binary`,
  );
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root (CI) cannot use Chromium's setuid sandbox; the pages are our own app on loopback.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

/** Firefox in a fresh temporary profile (puppeteer removes it on close), pages at `viewport`. */
export function launchFirefox(viewport: { width: number; height: number }): Promise<BidiBrowser> {
  return puppeteer.launch({ browser: "firefox", executablePath: FIREFOX, headless: true, defaultViewport: viewport });
}
