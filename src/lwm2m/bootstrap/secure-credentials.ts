/**
 * Where a device's BOOTSTRAP credentials live (decision): in its bootstrap configuration,
 * as a `bootstrap` section next to `servers`:
 *
 *   {"bootstrap": {"security": {"mode": "psk", "identity": "dev-bs", "key": "<hex>"}}, "servers": [...]}
 *   {"bootstrap": {"security": {"mode": "rpk", "publicKey": "<hex DER SubjectPublicKeyInfo>"}}, ...}
 *   {"bootstrap": {"security": {"mode": "x509", "subject": "<certificate CN, default the endpoint>"}}, ...}
 *
 * The bootstrap account and the server accounts it hands out belong together (one PUT,
 * one row, encrypted at rest by the store like the server keys beside them), and a device
 * with a `bootstrap` section must bootstrap over CoAPS with exactly that credential.
 * The security store (`/api/security/clients`) stays the LwM2M server's: the two
 * listeners never accept each other's identities.
 *
 * A server account with `"registerCredentials": true` also puts its credential into the
 * LwM2M server's security store when a bootstrap is accepted, so the device can register
 * over CoAPS right after Bootstrap-Finish.
 */

export type BootstrapClientSecurity =
  | { mode: 'psk'; identity: string; /** hex; secret. */ key: string }
  | { mode: 'rpk'; /** hex DER SubjectPublicKeyInfo of the device. */ publicKey: string }
  | { mode: 'x509'; /** Certificate subject CN expected from the device; default the endpoint name. */ subject?: string };

export interface BootstrapAccountSection {
  security: BootstrapClientSecurity;
}

/** Thrown with the field and the reason; config.ts turns it into a BootstrapConfigError. */
export class BootstrapCredentialsError extends Error {
  override readonly name = 'BootstrapCredentialsError';
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function only(value: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new BootstrapCredentialsError(`${where} has an unknown field "${key}" (known: ${known.join(', ')})`);
  }
}

function hexField(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(value)) {
    throw new BootstrapCredentialsError(`${where} must be a non-empty hex string with an even number of digits`);
  }
  return value.toLowerCase();
}

function text(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new BootstrapCredentialsError(`${where} must be a non-empty string`);
  return value;
}

export function parseBootstrapAccountSection(value: unknown): BootstrapAccountSection {
  if (!isObject(value)) throw new BootstrapCredentialsError('bootstrap must be an object like {"security": {"mode": "psk", "identity": "…", "key": "<hex>"}}');
  only(value, ['security'], 'bootstrap');
  const security = value.security;
  if (!isObject(security)) throw new BootstrapCredentialsError('bootstrap.security must be an object with a mode (psk, rpk or x509)');
  switch (security.mode) {
    case 'psk':
      only(security, ['mode', 'identity', 'key'], 'bootstrap.security');
      return { security: { mode: 'psk', identity: text(security.identity, 'bootstrap.security.identity'), key: hexField(security.key, 'bootstrap.security.key') } };
    case 'rpk':
      only(security, ['mode', 'publicKey'], 'bootstrap.security');
      return { security: { mode: 'rpk', publicKey: hexField(security.publicKey, 'bootstrap.security.publicKey') } };
    case 'x509':
      only(security, ['mode', 'subject'], 'bootstrap.security');
      return { security: security.subject === undefined ? { mode: 'x509' } : { mode: 'x509', subject: text(security.subject, 'bootstrap.security.subject') } };
    default:
      throw new BootstrapCredentialsError(`bootstrap.security.mode must be psk, rpk or x509, got ${JSON.stringify(security.mode)}`);
  }
}

/** The section as operators may see it: the PSK key replaced by whether it is set. */
export function redactBootstrapAccountSection(section: BootstrapAccountSection): Record<string, unknown> {
  if (section.security.mode !== 'psk') return { security: { ...section.security } };
  const { key: _key, ...shown } = section.security;
  return { security: { ...shown, hasKey: true } };
}
