import { createHash, timingSafeEqual } from 'node:crypto';
import * as graphene from 'graphene-pk11';

/**
 * PKCS#11 login state belongs to the application and the token, not to one session: a second
 * C_Login on an already logged-in token fails (CKR_USER_ALREADY_LOGGED_IN), and one C_Logout
 * logs every session of the application out. Several users of one token in a process (a
 * device's key source and a test, two devices sharing a token) must therefore share one login,
 * counted, with the logout left to the last user.
 */
const logins = new Map<string, { pinDigest: Buffer; users: number }>();

const digestOf = (pin: string) => createHash('sha256').update(pin).digest();

export function tokenKey(modulePath: string, tokenLabel: string): string {
  return `${modulePath}\u0000${tokenLabel}`;
}

/** Logs `session` in, or joins the login already made; a later user must present the same PIN. */
export function joinLogin(session: graphene.Session, key: string, pin: string): void {
  const existing = logins.get(key);
  if (existing) {
    // The token is not asked again (it would refuse); the PIN that unlocked it is the check.
    if (!timingSafeEqual(existing.pinDigest, digestOf(pin))) throw new Error('CKR_PIN_INCORRECT (not the PIN this token is logged in with)');
    existing.users++;
    return;
  }
  session.login(pin, graphene.UserType.USER);
  logins.set(key, { pinDigest: digestOf(pin), users: 1 });
}

/** Leaves the shared login; the last user logs the token out. */
export function leaveLogin(session: graphene.Session, key: string): void {
  const entry = logins.get(key);
  if (!entry) return;
  if (--entry.users > 0) return;
  logins.delete(key);
  try {
    session.logout();
  } catch {
    /* not logged in any more */
  }
}
