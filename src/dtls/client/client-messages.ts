/** The client's side of the hello and key-exchange messages (RFC 5246, 4279, 8422, 7250, 9146). */
import { ByteReader, DtlsDecodeError, u16, vec16, vec8 } from '../bytes.js';
import { DTLS_1_2, NamedGroup } from '../constants.js';

export interface ClientHelloFields {
  random: Buffer;
  sessionId: Buffer;
  cookie: Buffer;
  cipherSuites: number[];
  extensions: Array<{ type: number; data: Buffer }>;
}

export function encodeClientHello(f: ClientHelloFields): Buffer {
  return Buffer.concat([
    u16(DTLS_1_2),
    f.random,
    vec8(f.sessionId),
    vec8(f.cookie),
    vec16(Buffer.concat(f.cipherSuites.map((s) => u16(s)))),
    vec8(Buffer.from([0])),
    vec16(Buffer.concat(f.extensions.map((e) => Buffer.concat([u16(e.type), vec16(e.data)])))),
  ]);
}

export function parseHelloVerifyRequest(body: Buffer): Buffer {
  const r = new ByteReader(body);
  r.u16(); // server_version: 1.0 or 1.2, both fine (RFC 6347 §4.2.1)
  const cookie = Buffer.from(r.vec8());
  r.expectEnd('HelloVerifyRequest');
  if (cookie.length > 32) throw new DtlsDecodeError('cookie too long');
  return cookie;
}

export interface ServerHello {
  version: number;
  random: Buffer;
  sessionId: Buffer;
  cipherSuite: number;
  compression: number;
  extensions: Map<number, Buffer>;
}

export function parseServerHello(body: Buffer): ServerHello {
  const r = new ByteReader(body);
  const version = r.u16();
  const random = Buffer.from(r.bytes(32));
  const sessionId = Buffer.from(r.vec8());
  if (sessionId.length > 32) throw new DtlsDecodeError('session id too long');
  const cipherSuite = r.u16();
  const compression = r.u8();
  const extensions = new Map<number, Buffer>();
  if (r.remaining > 0) {
    const ext = new ByteReader(r.vec16());
    while (ext.remaining > 0) {
      const type = ext.u16();
      const data = Buffer.from(ext.vec16());
      if (extensions.has(type)) throw new DtlsDecodeError(`duplicate extension ${type}`);
      extensions.set(type, data);
    }
  }
  r.expectEnd('ServerHello');
  return { version, random, sessionId, cipherSuite, compression, extensions };
}

export interface EcdheServerKeyExchange {
  /** The signed part: curve type, named group, point. */
  params: Buffer;
  publicPoint: Buffer;
  algorithm: number;
  signature: Buffer;
}

export function parseEcdheServerKeyExchange(body: Buffer): EcdheServerKeyExchange {
  const r = new ByteReader(body);
  const curveType = r.u8();
  const group = r.u16();
  if (curveType !== 3 || group !== NamedGroup.secp256r1) throw new DtlsDecodeError('server chose a curve we did not offer');
  const publicPoint = Buffer.from(r.vec8());
  const params = Buffer.from(body.subarray(0, r.position));
  const algorithm = r.u16();
  const signature = Buffer.from(r.vec16());
  r.expectEnd('ServerKeyExchange');
  return { params, publicPoint, algorithm, signature };
}

/** RFC 4279 §2: the optional identity hint; we note it but always send our configured identity. */
export function parsePskServerKeyExchange(body: Buffer): string {
  const r = new ByteReader(body);
  const hint = r.vec16().toString('utf8');
  r.expectEnd('ServerKeyExchange');
  return hint;
}

export interface CertificateRequest {
  certificateTypes: number[];
  signatureAlgorithms: number[];
}

export function parseCertificateRequest(body: Buffer): CertificateRequest {
  const r = new ByteReader(body);
  const certificateTypes = [...r.vec8()];
  const sigs = r.vec16();
  if (sigs.length % 2 !== 0) throw new DtlsDecodeError('odd signature algorithm list');
  const signatureAlgorithms: number[] = [];
  for (let i = 0; i < sigs.length; i += 2) signatureAlgorithms.push(sigs.readUInt16BE(i));
  r.vec16(); // certificate_authorities: we have one key, so the list does not change our choice
  r.expectEnd('CertificateRequest');
  return { certificateTypes, signatureAlgorithms };
}

export const encodePskClientKeyExchange = (identity: string): Buffer => vec16(Buffer.from(identity, 'utf8'));
export const encodeEcdheClientKeyExchange = (point: Buffer): Buffer => vec8(point);
export const encodeCertificateVerify = (algorithm: number, signature: Buffer): Buffer => Buffer.concat([u16(algorithm), vec16(signature)]);
