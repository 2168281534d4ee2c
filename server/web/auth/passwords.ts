/**
 * Password hashing: argon2id with @node-rs/argon2's defaults (m=19456 KiB, t=2, p=1: OWASP's
 * recommended minimum), self-describing PHC strings, so raising the cost later keeps old hashes valid.
 */
import { hash, verify } from "@node-rs/argon2";

/** @node-rs/argon2's `Algorithm.Argon2id` (a const enum, which isolated builds cannot import). */
const ARGON2ID = 2;

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256;

export function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: ARGON2ID });
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false; // a malformed hash never matches
  }
}

let dummy: Promise<string> | null = null;

/**
 * Spends the time a real verification would, for logins with an unknown email: the answer's timing
 * must not tell which addresses have accounts.
 */
export async function verifyNobody(password: string): Promise<false> {
  dummy ??= hashPassword("no account has this password");
  await verifyPassword(await dummy, password);
  return false;
}
