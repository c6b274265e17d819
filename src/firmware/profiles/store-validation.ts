/**
 * Turns JSON from operators into profiles and pairings, collecting every reason a body is
 * wrong (not just the first) so one 400 answer says everything to fix. Key material is
 * parsed here, at the door, so a profile in the store always loads.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import type { AuthAlgName, KeyWrapAlgName } from '../manifest/algorithms.js';
import { TRANSPORT_STRENGTH, type TransportSecurity } from './profile.js';
import type { DeviceTypePairing, StoredProfile, TrustedKeySpec } from './store.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reasons: string[] };

const AUTH_ALGS: readonly AuthAlgName[] = ['ES256', 'ESP256', 'EdDSA', 'PS256', 'RS256', 'HMAC256'];
const KEY_WRAPS: readonly KeyWrapAlgName[] = ['A128KW', 'ECDH-ES+A128KW'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ID_HEX = /^[0-9a-f]{32}$/;

const PROFILE_FIELDS = new Set([
  'name', 'tier', 'allowedAlgorithms', 'minKeySizes', 'requiredSigners', 'requireCertificateChain', 'encryptionRequired',
  'allowedKeyWrap', 'minTransportSecurity', 'trustAnchors', 'deviceKeyRef', 'hardwareBackedKeys', 'trustedKeys',
]);

/** Not errors, but a profile no image can pass; shown beside the profile so operators notice. */
export function profileWarnings(profile: StoredProfile): string[] {
  const warnings: string[] = [];
  const signs = profile.allowedAlgorithms.some((a) => a !== 'HMAC256');
  if (profile.requireCertificateChain && profile.trustAnchors.length === 0) warnings.push('requireCertificateChain is on but there are no trustAnchors: no signed image can pass');
  if (!profile.requireCertificateChain && signs && profile.trustAnchors.length === 0 && profile.trustedKeys.every((k) => !k.publicKeyPem)) {
    if (!profile.allowedAlgorithms.includes('HMAC256')) warnings.push('no trustAnchors and no trustedKeys: no image can pass');
  }
  return warnings;
}

export function isValidProfileName(name: string): boolean {
  return NAME.test(name);
}

/** A 16-byte id as operators may write it (UUID with dashes, any case) in our stored form. */
export function normalizeId(text: string): string | undefined {
  const clean = text.replace(/-/g, '').toLowerCase();
  return ID_HEX.test(clean) ? clean : undefined;
}

/**
 * A whole profile (PUT replaces). `name` comes from the URL; a body naming another one is
 * refused. Secrets of keys already stored may be kept by sending `{"kid", "role", "secret": true}`.
 */
export function parseProfile(name: string, body: unknown, previous?: StoredProfile): Parsed<StoredProfile> {
  const reasons: string[] = [];
  if (!isValidProfileName(name)) reasons.push(`profile name "${name}" must be 1-64 letters, digits, '.', '_' or '-'`);
  if (!isObject(body)) return { ok: false, reasons: [...reasons, 'the body must be a JSON object describing the profile'] };
  for (const key of Object.keys(body)) if (!PROFILE_FIELDS.has(key)) reasons.push(`unknown field "${key}"`);
  if (body.name !== undefined && body.name !== name) reasons.push(`"name" in the body (${JSON.stringify(body.name)}) differs from the URL's "${name}"`);

  const tier = body.tier;
  if (tier !== 1 && tier !== 2 && tier !== 3) reasons.push('"tier" must be 1, 2 or 3');
  const allowedAlgorithms = enumList(body.allowedAlgorithms, AUTH_ALGS, 'allowedAlgorithms', reasons, true);
  const allowedKeyWrap = enumList(body.allowedKeyWrap, KEY_WRAPS, 'allowedKeyWrap', reasons, false);
  const minKeySizes = parseMinKeySizes(body.minKeySizes, reasons);
  const requiredSigners = parseSigners(body.requiredSigners, reasons);
  const requireCertificateChain = bool(body.requireCertificateChain, 'requireCertificateChain', reasons);
  const encryptionRequired = bool(body.encryptionRequired, 'encryptionRequired', reasons);
  const hardwareBackedKeys = bool(body.hardwareBackedKeys ?? false, 'hardwareBackedKeys', reasons);
  const minTransportSecurity = body.minTransportSecurity;
  if (typeof minTransportSecurity !== 'string' || !TRANSPORT_STRENGTH.includes(minTransportSecurity as TransportSecurity)) {
    reasons.push(`"minTransportSecurity" must be one of ${TRANSPORT_STRENGTH.join(', ')}`);
  }
  const trustAnchors = parseAnchors(body.trustAnchors ?? [], reasons);
  const trustedKeys = parseTrustedKeys(body.trustedKeys ?? [], 'trustedKeys', reasons, previous?.trustedKeys);
  const deviceKeyRef = body.deviceKeyRef;
  if (deviceKeyRef !== undefined && (typeof deviceKeyRef !== 'string' || deviceKeyRef === '')) reasons.push('"deviceKeyRef" must be a non-empty string');

  if (encryptionRequired === true && allowedKeyWrap.length === 0) reasons.push('"encryptionRequired" is true but "allowedKeyWrap" allows no key wrap');
  if (tier !== undefined && tier !== 1 && allowedAlgorithms.includes('HMAC256')) reasons.push('tiers 2 and 3 must not allow HMAC256 (a MAC proves no origin)');
  if (reasons.length > 0) return { ok: false, reasons };
  return {
    ok: true,
    value: {
      name,
      tier: tier as 1 | 2 | 3,
      allowedAlgorithms,
      minKeySizes: minKeySizes!,
      requiredSigners,
      requireCertificateChain: requireCertificateChain!,
      encryptionRequired: encryptionRequired!,
      allowedKeyWrap,
      minTransportSecurity: minTransportSecurity as TransportSecurity,
      trustAnchors,
      ...(deviceKeyRef !== undefined ? { deviceKeyRef: deviceKeyRef as string } : {}),
      hardwareBackedKeys: hardwareBackedKeys!,
      trustedKeys,
    },
  };
}

export function parseDeviceTypePairing(deviceType: string, body: unknown, profileExists: (name: string) => boolean): Parsed<DeviceTypePairing> {
  const reasons: string[] = [];
  if (deviceType === '' || deviceType.length > 128) reasons.push('the device type must be 1-128 characters');
  if (!isObject(body)) return { ok: false, reasons: [...reasons, 'the body must be JSON {"profile": "<name>", "vendorId"?: "<uuid>", "classId"?: "<uuid>"}'] };
  for (const key of Object.keys(body)) if (!['profile', 'vendorId', 'classId'].includes(key)) reasons.push(`unknown field "${key}"`);
  const profile = body.profile;
  if (typeof profile !== 'string' || !profileExists(profile)) reasons.push(`"profile" must name an existing profile, got ${JSON.stringify(profile)}`);
  const vendorId = optionalId(body.vendorId, 'vendorId', reasons);
  const classId = optionalId(body.classId, 'classId', reasons);
  if (reasons.length > 0) return { ok: false, reasons };
  return { ok: true, value: { deviceType, profile: profile as string, ...(vendorId ? { vendorId } : {}), ...(classId ? { classId } : {}) } };
}

/** What an operator may set on a device's record; `null` clears a field, absent keeps it. */
export interface DeviceRecordPatch {
  assigned?: string | null;
  deviceType?: string | null;
  vendorId?: string | null;
  classId?: string | null;
  installedSequence?: number;
  encryptionKeyId?: string | null;
  keys?: TrustedKeySpec[];
}

const DEVICE_FIELDS = new Set(['profile', 'deviceType', 'vendorId', 'classId', 'installedSequence', 'encryptionKeyId', 'keys']);

export function parseDevicePatch(body: unknown, profileExists: (name: string) => boolean, previousKeys?: readonly TrustedKeySpec[]): Parsed<DeviceRecordPatch> {
  const reasons: string[] = [];
  if (!isObject(body)) return { ok: false, reasons: ['the body must be a JSON object, e.g. {"profile": "tier-2-x509"}'] };
  const patch: DeviceRecordPatch = {};
  for (const key of Object.keys(body)) if (!DEVICE_FIELDS.has(key)) reasons.push(`unknown field "${key}"`);
  if (body.profile !== undefined) {
    if (body.profile === null) patch.assigned = null;
    else if (typeof body.profile === 'string' && profileExists(body.profile)) patch.assigned = body.profile;
    else reasons.push(`"profile" must name an existing profile or be null, got ${JSON.stringify(body.profile)}`);
  }
  if (body.deviceType !== undefined) {
    if (body.deviceType === null || (typeof body.deviceType === 'string' && body.deviceType !== '' && body.deviceType.length <= 128)) patch.deviceType = body.deviceType;
    else reasons.push('"deviceType" must be a string of 1-128 characters or null');
  }
  for (const field of ['vendorId', 'classId'] as const) {
    if (body[field] === null) patch[field] = null;
    else if (body[field] !== undefined) patch[field] = optionalId(body[field], field, reasons);
  }
  if (body.installedSequence !== undefined) {
    const n = body.installedSequence;
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) patch.installedSequence = n;
    else reasons.push('"installedSequence" must be a non-negative integer');
  }
  if (body.encryptionKeyId !== undefined) {
    if (body.encryptionKeyId === null || (typeof body.encryptionKeyId === 'string' && body.encryptionKeyId !== '')) patch.encryptionKeyId = body.encryptionKeyId;
    else reasons.push('"encryptionKeyId" must be a non-empty string or null');
  }
  if (body.keys !== undefined) patch.keys = parseTrustedKeys(body.keys, 'keys', reasons, previousKeys);
  return reasons.length > 0 ? { ok: false, reasons } : { ok: true, value: patch };
}

// ───────────────────────────── pieces ─────────────────────────────

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bool(value: unknown, field: string, reasons: string[]): boolean | undefined {
  if (typeof value === 'boolean') return value;
  reasons.push(`"${field}" must be true or false`);
  return undefined;
}

function enumList<T extends string>(value: unknown, allowed: readonly T[], field: string, reasons: string[], nonEmpty: boolean): T[] {
  if (!Array.isArray(value)) {
    reasons.push(`"${field}" must be an array of ${allowed.join(', ')}`);
    return [];
  }
  const out: T[] = [];
  for (const item of value) {
    if (typeof item === 'string' && allowed.includes(item as T)) {
      if (!out.includes(item as T)) out.push(item as T);
    } else reasons.push(`"${field}" holds ${JSON.stringify(item)}; allowed: ${allowed.join(', ')}`);
  }
  if (nonEmpty && value.length === 0) reasons.push(`"${field}" must not be empty`);
  return out;
}

function parseMinKeySizes(value: unknown, reasons: string[]): StoredProfile['minKeySizes'] | undefined {
  if (!isObject(value)) {
    reasons.push('"minKeySizes" must be {"rsa": bits, "ec": bits, "hmac": bits}');
    return undefined;
  }
  const floors = { rsa: 2048, ec: 256, hmac: 256 } as const;
  const out: Record<string, number> = {};
  for (const family of ['rsa', 'ec', 'hmac'] as const) {
    const bits = value[family];
    if (typeof bits !== 'number' || !Number.isInteger(bits)) reasons.push(`"minKeySizes.${family}" must be an integer number of bits`);
    // Below these no profile of ours is secure; refusing them keeps a typo from weakening a fleet.
    else if (bits < floors[family]) reasons.push(`"minKeySizes.${family}" must be at least ${floors[family]} bits, got ${bits}`);
    else out[family] = bits;
  }
  return out as StoredProfile['minKeySizes'];
}

function parseSigners(value: unknown, reasons: string[]): Array<{ role?: string; kid?: string }> {
  if (!Array.isArray(value) || value.length === 0) {
    reasons.push('"requiredSigners" must be a non-empty array of {"role"?: string, "kid"?: string}');
    return [];
  }
  const out: Array<{ role?: string; kid?: string }> = [];
  value.forEach((item, i) => {
    if (!isObject(item) || (item.role === undefined && item.kid === undefined)) {
      reasons.push(`"requiredSigners[${i}]" must name a "role" or a "kid"`);
      return;
    }
    const signer: { role?: string; kid?: string } = {};
    for (const field of ['role', 'kid'] as const) {
      if (item[field] === undefined) continue;
      if (typeof item[field] === 'string' && item[field] !== '') signer[field] = item[field];
      else reasons.push(`"requiredSigners[${i}].${field}" must be a non-empty string`);
    }
    for (const key of Object.keys(item)) if (key !== 'role' && key !== 'kid') reasons.push(`"requiredSigners[${i}]" has unknown field "${key}"`);
    out.push(signer);
  });
  return out;
}

function parseAnchors(value: unknown, reasons: string[]): Array<{ role: string; pem: string }> {
  if (!Array.isArray(value)) {
    reasons.push('"trustAnchors" must be an array of {"role": string, "pem": "-----BEGIN CERTIFICATE-----…"}');
    return [];
  }
  const out: Array<{ role: string; pem: string }> = [];
  value.forEach((item, i) => {
    if (!isObject(item) || typeof item.role !== 'string' || item.role === '' || typeof item.pem !== 'string') {
      reasons.push(`"trustAnchors[${i}]" must be {"role": string, "pem": string}`);
      return;
    }
    try {
      const certificate = new X509Certificate(item.pem);
      if (!certificate.ca) reasons.push(`"trustAnchors[${i}]" (${certificate.subject.replace(/\n/g, ', ')}) is not a CA certificate`);
      out.push({ role: item.role, pem: item.pem });
    } catch (err) {
      reasons.push(`"trustAnchors[${i}].pem" is not a PEM certificate: ${(err as Error).message}`);
    }
  });
  return out;
}

function parseTrustedKeys(value: unknown, field: string, reasons: string[], previous: readonly TrustedKeySpec[] = []): TrustedKeySpec[] {
  if (!Array.isArray(value)) {
    reasons.push(`"${field}" must be an array of {"kid", "role", "publicKeyPem" | "secretHex"}`);
    return [];
  }
  const out: TrustedKeySpec[] = [];
  const seen = new Set<string>();
  value.forEach((item, i) => {
    const at = `"${field}[${i}]"`;
    if (!isObject(item) || typeof item.kid !== 'string' || item.kid === '' || typeof item.role !== 'string' || item.role === '') {
      reasons.push(`${at} must have a non-empty "kid" and "role"`);
      return;
    }
    if (seen.has(item.kid)) reasons.push(`${at}: kid "${item.kid}" appears twice`);
    seen.add(item.kid);
    const kinds = ['publicKeyPem', 'secretHex', 'secret'].filter((k) => item[k] !== undefined);
    if (kinds.length !== 1) {
      reasons.push(`${at} must have exactly one of "publicKeyPem" or "secretHex"`);
      return;
    }
    if (item.publicKeyPem !== undefined) {
      try {
        const key = createPublicKey(String(item.publicKeyPem));
        if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) reasons.push(`${at}: RSA keys below 2048 bits are not accepted`);
        out.push({ kid: item.kid, role: item.role, publicKeyPem: String(item.publicKeyPem) });
      } catch (err) {
        reasons.push(`${at}.publicKeyPem is not a PEM public key: ${(err as Error).message}`);
      }
    } else if (item.secret === true) {
      // The GET view shows `"secret": true`; sending it back keeps the stored secret.
      const kept = previous.find((k) => k.kid === item.kid && k.secretHex !== undefined);
      if (kept) out.push({ kid: item.kid, role: item.role, secretHex: kept.secretHex });
      else reasons.push(`${at}: no stored secret for kid "${item.kid}" to keep; send "secretHex"`);
    } else if (typeof item.secretHex === 'string' && /^([0-9a-fA-F]{2}){32,}$/.test(item.secretHex)) {
      out.push({ kid: item.kid, role: item.role, secretHex: item.secretHex.toLowerCase() });
    } else {
      reasons.push(`${at}.secretHex must be at least 32 bytes of hex (HMAC-256 keys)`);
    }
  });
  return out;
}

function optionalId(value: unknown, field: string, reasons: string[]): string | undefined {
  if (value === undefined) return undefined;
  const id = typeof value === 'string' ? normalizeId(value) : undefined;
  if (!id) reasons.push(`"${field}" must be 16 bytes as hex or a UUID, got ${JSON.stringify(value)}`);
  return id;
}
