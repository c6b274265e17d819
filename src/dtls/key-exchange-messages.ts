/** Encoders/decoders for the key-exchange phase messages (RFC 4279, RFC 4492/8422, RFC 7250). */
import { ByteReader, u16, u8, vec16, vec24, vec8 } from './bytes.js';
import { NamedGroup, SIG_ECDSA_SHA256 } from './constants.js';
import type { CertKind } from './negotiation.js';

/** ECParameters(named_curve, secp256r1) | ECPoint, the part of ServerKeyExchange that is signed. */
export function ecdheServerParams(publicPoint: Buffer): Buffer {
  return Buffer.concat([u8(3), u16(NamedGroup.secp256r1), vec8(publicPoint)]);
}

export function encodeEcdheServerKeyExchange(params: Buffer, derSignature: Buffer): Buffer {
  return Buffer.concat([params, u16(SIG_ECDSA_SHA256), vec16(derSignature)]);
}

export function encodePskServerKeyExchange(hint: string): Buffer {
  return vec16(Buffer.from(hint, 'utf8'));
}

/** X.509: a list of certificates; RFC 7250 raw public key: one SubjectPublicKeyInfo. */
export function encodeCertificate(kind: CertKind, items: Buffer[]): Buffer {
  if (kind === 'rpk') return vec24(items[0]);
  return vec24(Buffer.concat(items.map((c) => vec24(c))));
}

export function parseCertificate(kind: CertKind, body: Buffer): Buffer[] {
  const r = new ByteReader(body);
  if (kind === 'rpk') {
    const spki = Buffer.from(r.vec24());
    r.expectEnd('Certificate');
    return [spki];
  }
  const list = new ByteReader(r.vec24());
  r.expectEnd('Certificate');
  const out: Buffer[] = [];
  while (list.remaining > 0) out.push(Buffer.from(list.vec24()));
  return out;
}

/** ecdsa_sign only, ecdsa_secp256r1_sha256 only, no CA names (the client picks its one key). */
export function encodeCertificateRequest(): Buffer {
  return Buffer.concat([vec8(Buffer.from([64])), vec16(u16(SIG_ECDSA_SHA256)), vec16(Buffer.alloc(0))]);
}

export function parsePskClientKeyExchange(body: Buffer): string {
  const r = new ByteReader(body);
  const identity = r.vec16();
  r.expectEnd('ClientKeyExchange');
  return identity.toString('utf8');
}

export function parseEcdheClientKeyExchange(body: Buffer): Buffer {
  const r = new ByteReader(body);
  const point = Buffer.from(r.vec8());
  r.expectEnd('ClientKeyExchange');
  return point;
}

export function parseCertificateVerify(body: Buffer): { algorithm: number; signature: Buffer } {
  const r = new ByteReader(body);
  const algorithm = r.u16();
  const signature = Buffer.from(r.vec16());
  r.expectEnd('CertificateVerify');
  return { algorithm, signature };
}
