/**
 * Security info as the HTTP API speaks it, in Leshan's shape:
 *   {"endpoint":"ep","tls":{"mode":"psk","details":{"identity":"id","key":"hex"}}}
 *   {"endpoint":"ep","tls":{"mode":"rpk","details":{"key":"<hex SubjectPublicKeyInfo DER>"}}}
 *   {"endpoint":"ep","tls":{"mode":"x509"}}   (optional details.subjectCN: our extension,
 *                                              when the certificate CN is not the endpoint)
 * A PSK key is write-only: what we send back never carries it (nor any private key).
 */
import { createPublicKey } from 'node:crypto';
import type { SecurityInfo } from '../store/types.js';
import { ApiError } from './errors.js';

/** RFC 4279 allows longer identities; 128 bytes is what OpenSSL and most device stacks accept. */
export const MAX_PSK_IDENTITY_BYTES = 128;
/** 128 bits, LwM2M's recommended minimum: a shorter key falls to an offline dictionary attack on one captured handshake. */
export const MIN_PSK_KEY_BYTES = 16;
export const MAX_PSK_KEY_BYTES = 64;
export const MAX_ENDPOINT_BYTES = 255;

export interface SecurityInfoJson {
  endpoint: string;
  tls: { mode: 'psk' | 'rpk' | 'x509'; details?: Record<string, string> };
}

/** The view operators get: identities and public keys, never secrets. */
export function securityInfoToJson(info: SecurityInfo): SecurityInfoJson {
  switch (info.mode) {
    case 'psk':
      return { endpoint: info.endpoint, tls: { mode: 'psk', details: { identity: info.pskIdentity ?? '' } } };
    case 'rpk':
      return { endpoint: info.endpoint, tls: { mode: 'rpk', details: { key: info.rpkPublicKey?.toString('hex') ?? '' } } };
    case 'x509':
      return info.x509Subject === undefined
        ? { endpoint: info.endpoint, tls: { mode: 'x509' } }
        : { endpoint: info.endpoint, tls: { mode: 'x509', details: { subjectCN: info.x509Subject } } };
  }
}

/** Checks an endpoint name from the URL. */
export function checkEndpointName(endpoint: string): void {
  if (endpoint === '') throw bad('the endpoint name is empty');
  if (Buffer.byteLength(endpoint, 'utf8') > MAX_ENDPOINT_BYTES) throw bad(`the endpoint name is longer than ${MAX_ENDPOINT_BYTES} bytes`);
}

/** Parses a PUT body for `endpoint` (from the URL); throws ApiError 400 saying what is wrong. */
export function securityInfoFromJson(endpoint: string, body: unknown): SecurityInfo {
  checkEndpointName(endpoint);
  if (!isObject(body)) throw bad('the body must be a JSON object like {"tls":{"mode":"psk","details":{"identity":"…","key":"<hex>"}}}');
  if (body.endpoint !== undefined && body.endpoint !== endpoint) {
    throw bad(`the body names endpoint ${JSON.stringify(body.endpoint)} but the URL names "${endpoint}"`);
  }
  const tls = body.tls;
  if (!isObject(tls)) throw bad('"tls" must be an object with "mode" and "details"');
  const details = tls.details;
  if (details !== undefined && !isObject(details)) throw bad('"tls.details" must be an object');
  const field = (name: string): unknown => (details === undefined ? undefined : details[name]);
  switch (tls.mode) {
    case 'psk':
      return { endpoint, mode: 'psk', pskIdentity: pskIdentity(field('identity')), pskKey: pskKey(field('key')) };
    case 'rpk':
      return { endpoint, mode: 'rpk', rpkPublicKey: rawPublicKey(field('key')) };
    case 'x509': {
      const cn = field('subjectCN');
      if (cn === undefined) return { endpoint, mode: 'x509' };
      if (typeof cn !== 'string' || cn === '') throw bad('"tls.details.subjectCN" must be a non-empty string (the certificate subject CN)');
      return { endpoint, mode: 'x509', x509Subject: cn };
    }
    default:
      throw bad(`"tls.mode" must be "psk", "rpk" or "x509", got ${JSON.stringify(tls.mode)}`);
  }
}

function pskIdentity(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw bad('psk needs "tls.details.identity", a non-empty string');
  if (Buffer.byteLength(value, 'utf8') > MAX_PSK_IDENTITY_BYTES) throw bad(`the PSK identity is longer than ${MAX_PSK_IDENTITY_BYTES} bytes`);
  return value;
}

function pskKey(value: unknown): Buffer {
  if (typeof value !== 'string') throw bad('psk needs "tls.details.key", the key as hex');
  const key = hexBytes(value, '"tls.details.key"');
  if (key.length < MIN_PSK_KEY_BYTES || key.length > MAX_PSK_KEY_BYTES) {
    throw bad(`the PSK must be ${MIN_PSK_KEY_BYTES} to ${MAX_PSK_KEY_BYTES} bytes (${2 * MIN_PSK_KEY_BYTES}-${2 * MAX_PSK_KEY_BYTES} hex digits), got ${key.length}`);
  }
  return key;
}

/** A P-256 SubjectPublicKeyInfo, returned in canonical DER (what the DTLS layer compares against). */
function rawPublicKey(value: unknown): Buffer {
  if (typeof value !== 'string') throw bad('rpk needs "tls.details.key", the public key as hex SubjectPublicKeyInfo DER');
  const der = hexBytes(value, '"tls.details.key"');
  let key;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw bad('"tls.details.key" is not a DER SubjectPublicKeyInfo public key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw bad('the raw public key must be an EC P-256 (secp256r1) key, the curve of our ECDHE-ECDSA suites');
  }
  return key.export({ format: 'der', type: 'spki' });
}

function hexBytes(text: string, what: string): Buffer {
  if (text.length === 0 || text.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(text)) throw bad(`${what} must be an even number of hex digits`);
  return Buffer.from(text, 'hex');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(detail: string): ApiError {
  return new ApiError(400, 'bad security info', detail);
}
