/** Who is signed in (GET /api/auth/me), cached for the page's life; pages that need a user go through `requireUser`. */
import { api, ApiError, get, type User } from "./api";
import { closeSocket } from "./realtime";
import { navigate } from "./router";

let current: User | null | undefined;
const listeners = new Set<(u: User | null) => void>();

export function onUser(fn: (u: User | null) => void): void {
  listeners.add(fn);
}

export function setUser(u: User | null): void {
  current = u;
  for (const fn of listeners) fn(u);
}

export async function me(): Promise<User | null> {
  if (current !== undefined) return current;
  try {
    setUser((await get<{ user: User }>("/api/auth/me")).user);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    setUser(null);
  }
  return current ?? null;
}

/** The signed-in user, or a trip to the login page (and back here after). */
export async function requireUser(): Promise<User | null> {
  const u = await me();
  if (!u) navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
  return u;
}

export async function signOut(): Promise<void> {
  await api("POST", "/api/auth/logout", {}).catch(() => undefined);
  closeSocket();
  setUser(null);
  navigate("/login");
}
