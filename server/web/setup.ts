/**
 * The first admin, safely: there is no default account or password. While no enabled admin exists,
 * every start of the server revokes earlier setup links and makes a new one-time link (an invite of
 * role admin, purpose "setup", valid 24 hours), printed to the server's console only. Whoever can read
 * that console can make the first admin; once one exists, nothing is printed.
 */
import type { Store } from "../store/index.js";
import { randomToken, tokenHash } from "./auth/sessions.js";
import { inviteUrl } from "./routes/admin.js";

export const SETUP_TTL_MS = 24 * 3_600_000;

export interface SetupLink {
  token: string;
  url: string;
  expiresAt: string;
}

/** A new setup link when the server has no admin yet; null when it has one. */
export async function setupLinkIfNeeded(store: Store, publicUrl: string, now = new Date()): Promise<SetupLink | null> {
  if ((await store.countUsers("admin")) > 0) return null;
  const token = randomToken();
  const expiresAt = new Date(now.getTime() + SETUP_TTL_MS).toISOString();
  await store.transaction(async (tx) => {
    await tx.revokeInvites({ purpose: "setup" }, now.toISOString());
    await tx.createInvite({ tokenHash: tokenHash(token), role: "admin", email: null, purpose: "setup", createdBy: null, at: now.toISOString(), expiresAt });
  });
  return { token, url: inviteUrl(publicUrl, token), expiresAt };
}

/** What the console shows: the link, and the same with curl while the browser app is not there. */
export function setupMessage(link: SetupLink, publicUrl: string): string {
  return [
    "",
    "No admin account yet. Create the first one with this one-time link (valid 24 hours):",
    "",
    `  ${link.url}`,
    "",
    "or from a shell:",
    "",
    `  curl -sS -X POST ${publicUrl}/api/invites/accept -H 'Content-Type: application/json' \\`,
    `    -d '{"token": "${link.token}", "email": "you@example.com", "name": "Your Name", "password": "at least 10 characters"}'`,
    "",
    "A new link is printed at every start until an admin exists; earlier links stop working.",
    "",
  ].join("\n");
}
