/** ClientHello parsing and the server's hello-phase messages (RFC 5246 §7.4.1, RFC 6347 §4.2.1). */
import { ByteReader, DtlsDecodeError, u16, u8, vec16, vec8 } from './bytes.js';
import { DTLS_1_0, DTLS_1_2 } from './constants.js';

export interface ClientHello {
  clientVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cookie: Buffer;
  cipherSuites: number[];
  compressionMethods: Buffer;
  /** Extension type -> data; a repeated type is a decode error (RFC 5246 §7.4.1.4). */
  extensions: Map<number, Buffer>;
  /** The raw fields the cookie is bound to (everything but the cookie and extensions). */
  cookieBinding: Buffer;
}

export function parseClientHello(body: Buffer): ClientHello {
  const r = new ByteReader(body);
  const clientVersion = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vec8();
  if (sessionId.length > 32) throw new DtlsDecodeError('session id too long');
  const cookie = r.vec8();
  const suitesRaw = r.vec16();
  if (suitesRaw.length % 2 !== 0) throw new DtlsDecodeError('odd cipher suite list');
  const cipherSuites: number[] = [];
  for (let i = 0; i < suitesRaw.length; i += 2) cipherSuites.push(suitesRaw.readUInt16BE(i));
  const compressionMethods = r.vec8();
  const extensions = new Map<number, Buffer>();
  if (r.remaining > 0) {
    const ext = new ByteReader(r.vec16());
    while (ext.remaining > 0) {
      const type = ext.u16();
      const data = ext.vec16();
      if (extensions.has(type)) throw new DtlsDecodeError(`duplicate extension ${type}`);
      extensions.set(type, data);
    }
  }
  r.expectEnd('ClientHello');
  const cookieBinding = Buffer.concat([u16(clientVersion), random, vec8(sessionId), vec16(suitesRaw), vec8(compressionMethods)]);
  return { clientVersion, random, sessionId, cookie, cipherSuites, compressionMethods, extensions, cookieBinding };
}

/** RFC 6347 §4.2.1: the HelloVerifyRequest says 1.0 so every 1.x client understands it. */
export function encodeHelloVerifyRequest(cookie: Buffer): Buffer {
  return Buffer.concat([u16(DTLS_1_0), vec8(cookie)]);
}

export interface ServerHelloFields {
  random: Buffer;
  sessionId: Buffer;
  cipherSuite: number;
  extensions: Array<{ type: number; data: Buffer }>;
}

export function encodeServerHello(f: ServerHelloFields): Buffer {
  const parts = [u16(DTLS_1_2), f.random, vec8(f.sessionId), u16(f.cipherSuite), u8(0)];
  if (f.extensions.length > 0) {
    parts.push(vec16(Buffer.concat(f.extensions.map((e) => Buffer.concat([u16(e.type), vec16(e.data)])))));
  }
  return Buffer.concat(parts);
}

/** Parses a list extension of u16 values (supported_groups, signature_algorithms). */
export function parseU16List(data: Buffer): number[] {
  const r = new ByteReader(data);
  const list = r.vec16();
  if (list.length % 2 !== 0) throw new DtlsDecodeError('odd u16 list');
  const out: number[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(list.readUInt16BE(i));
  return out;
}

/** Parses a u8-length list of u8 values (ec_point_formats, RFC 7250 certificate types). */
export function parseU8List(data: Buffer): number[] {
  return [...new ByteReader(data).vec8()];
}
