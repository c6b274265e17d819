/**
 * A self-signed X.509 v3 certificate for a P-256 key, so a server started without
 * --dtls-key/--dtls-cert still has a certificate to present and show. node:crypto parses
 * certificates but cannot make one, and the handful of DER structures a certificate needs
 * (RFC 5280 §4.1) is smaller than a dependency.
 */
import { createPublicKey, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_COMMON_NAME = '2.5.4.3';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';

export interface SelfSignedOptions {
  privateKey: KeyObject;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
}

/** PEM of a certificate for `privateKey`'s public key, signed by that same key (ECDSA with SHA-256). */
export function createSelfSignedCertificate(options: SelfSignedOptions): string {
  const spki = createPublicKey(options.privateKey).export({ format: 'der', type: 'spki' });
  const name = sequence(set(sequence(oid(OID_COMMON_NAME), tlv(0x0c, Buffer.from(options.commonName, 'utf8')))));
  const algorithm = sequence(oid(OID_ECDSA_WITH_SHA256));
  // 20 random octets with the top bit clear: a positive serial within RFC 5280's limit.
  const serial = randomBytes(20);
  serial[0] &= 0x7f;
  serial[0] |= 0x01;
  const extensions = sequence(
    // Not a CA: this key signs DTLS handshakes, never other certificates.
    sequence(oid(OID_BASIC_CONSTRAINTS), tlv(0x01, Buffer.from([0xff])), tlv(0x04, sequence())),
    // digitalSignature only (bit 0; 7 unused bits).
    sequence(oid(OID_KEY_USAGE), tlv(0x01, Buffer.from([0xff])), tlv(0x04, tlv(0x03, Buffer.from([0x07, 0x80])))),
  );
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    name,
    sequence(time(options.notBefore), time(options.notAfter)),
    name,
    spki,
    tlv(0xa3, extensions),
  );
  const signature = sign('sha256', tbs, options.privateKey);
  const der = sequence(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  // Parse it back: a certificate we cannot read ourselves must not be written anywhere.
  return new X509Certificate(der).toString();
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let header: Buffer;
  if (n < 0x80) header = Buffer.from([tag, n]);
  else if (n < 0x100) header = Buffer.from([tag, 0x81, n]);
  else header = Buffer.from([tag, 0x82, n >> 8, n & 0xff]);
  return Buffer.concat([header, content]);
}

function sequence(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function set(...items: Buffer[]): Buffer {
  return tlv(0x31, Buffer.concat(items));
}

/** A non-negative INTEGER from big-endian bytes. */
function integer(bytes: Buffer): Buffer {
  return tlv(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const chunk = [arc & 0x7f];
    for (let rest = arc >>> 7; rest > 0; rest >>>= 7) chunk.unshift((rest & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2024-05-01T12:34:56.789Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'; // 20240501123456Z
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}
