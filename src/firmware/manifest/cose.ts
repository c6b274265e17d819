import { KeyObject, timingSafeEqual, webcrypto } from 'node:crypto';
import { COSE_ALG } from './algorithms.js';
import { type CborMap, type CborValue, Tagged, decodeCbor, encodeCbor, expectArray, expectBytes, expectInt, expectMap } from './cbor.js';
import { ManifestError } from './errors.js';
import { signParams, webHmacKey, webSignKey, webVerifyKey } from './keys.js';

const subtle = webcrypto.subtle;

export const COSE_TAG = { Sign1: 18, Mac0: 17, Encrypt: 96, Encrypt0: 16 } as const;
export const COSE_HEADER = { alg: 1, kid: 4, iv: 5, x5chain: 33, ephemeralKey: -1 } as const;

/** Something that can produce a COSE signature: a software key, or a key inside an HSM. */
export interface CoseSigner {
  readonly alg: number;
  readonly kid?: Uint8Array;
  /** DER certificates, leaf first; sent in the x5chain header so verifiers can build the path. */
  readonly x5chain?: Uint8Array[];
  sign(toBeSigned: Uint8Array): Promise<Uint8Array>;
}

/** A shared HMAC key (tier 1). */
export interface CoseMacKey {
  readonly alg: typeof COSE_ALG.HMAC256;
  readonly kid?: Uint8Array;
  readonly secret: Uint8Array;
}

export type CoseAuthenticator = CoseSigner | CoseMacKey;

export function isMacKey(a: CoseAuthenticator): a is CoseMacKey {
  return (a as CoseMacKey).secret !== undefined;
}

export function softwareSigner(privateKey: KeyObject, alg: number, opts: { kid?: Uint8Array; x5chain?: Uint8Array[] } = {}): CoseSigner {
  const params = signParams(alg);
  const keyPromise = webSignKey(privateKey, alg);
  return {
    alg,
    kid: opts.kid,
    x5chain: opts.x5chain,
    async sign(tbs) {
      return new Uint8Array(await subtle.sign(params, await keyPromise, tbs));
    },
  };
}

const EMPTY = new Uint8Array(0);

function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, EMPTY, payload]);
}
function macStructure(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['MAC0', protectedBytes, EMPTY, payload]);
}

function unprotectedHeader(kid?: Uint8Array, x5chain?: Uint8Array[]): CborMap {
  const h: CborMap = new Map();
  if (kid) h.set(COSE_HEADER.kid, kid);
  if (x5chain && x5chain.length > 0) h.set(COSE_HEADER.x5chain, x5chain.length === 1 ? x5chain[0] : x5chain);
  return h;
}

/** COSE_Sign1 or COSE_Mac0 over a detached payload, returned as tagged CBOR bytes. */
export async function createAuthBlock(payload: Uint8Array, auth: CoseAuthenticator): Promise<Uint8Array> {
  const protectedBytes = encodeCbor(new Map([[COSE_HEADER.alg, auth.alg]]));
  if (isMacKey(auth)) {
    const key = await webHmacKey(auth.secret);
    const tag = new Uint8Array(await subtle.sign('HMAC', key, macStructure(protectedBytes, payload)));
    return encodeCbor(new Tagged(COSE_TAG.Mac0, [protectedBytes, unprotectedHeader(auth.kid), null, tag]));
  }
  const signature = await auth.sign(sigStructure(protectedBytes, payload));
  return encodeCbor(new Tagged(COSE_TAG.Sign1, [protectedBytes, unprotectedHeader(auth.kid, auth.x5chain), null, signature]));
}

export interface ParsedAuthBlock {
  readonly kind: 'sign1' | 'mac0';
  readonly alg: number;
  readonly kid?: Uint8Array;
  readonly x5chain?: Uint8Array[];
  readonly protectedBytes: Uint8Array;
  readonly signature: Uint8Array;
}

export function parseProtected(bytes: Uint8Array, what: string): CborMap {
  if (bytes.length === 0) return new Map();
  return expectMap(decodeCbor(bytes), what);
}

/** Reads a COSE_Sign1/COSE_Mac0; the payload must be detached (nil). */
export function parseAuthBlock(bytes: Uint8Array): ParsedAuthBlock {
  const top = decodeCbor(bytes);
  if (!(top instanceof Tagged) || (top.tag !== COSE_TAG.Sign1 && top.tag !== COSE_TAG.Mac0)) {
    throw new ManifestError('unsupported', 'authentication block must be a tagged COSE_Sign1 or COSE_Mac0');
  }
  const arr = expectArray(top.value, 'COSE structure');
  if (arr.length !== 4) throw new ManifestError('bad-structure', 'COSE structure must have 4 elements');
  const protectedBytes = expectBytes(arr[0], 'COSE protected header');
  const prot = parseProtected(protectedBytes, 'COSE protected header');
  const unprot = expectMap(arr[1], 'COSE unprotected header');
  if (arr[2] !== null) throw new ManifestError('bad-structure', 'COSE payload must be detached (nil)');
  const signature = expectBytes(arr[3], 'COSE signature');
  if (unprot.has(COSE_HEADER.alg)) throw new ManifestError('bad-structure', 'alg must be a protected header');
  const alg = expectInt(prot.get(COSE_HEADER.alg) ?? null, 'COSE alg header');
  const kidRaw = prot.get(COSE_HEADER.kid) ?? unprot.get(COSE_HEADER.kid);
  const kid = kidRaw === undefined ? undefined : expectBytes(kidRaw, 'COSE kid header');
  const chainRaw = prot.get(COSE_HEADER.x5chain) ?? unprot.get(COSE_HEADER.x5chain);
  let x5chain: Uint8Array[] | undefined;
  if (chainRaw instanceof Uint8Array) x5chain = [chainRaw];
  else if (chainRaw !== undefined) x5chain = expectArray(chainRaw, 'x5chain').map((c: CborValue) => expectBytes(c, 'x5chain certificate'));
  return { kind: top.tag === COSE_TAG.Sign1 ? 'sign1' : 'mac0', alg, kid, x5chain, protectedBytes, signature };
}

export async function verifySign1(block: ParsedAuthBlock, payload: Uint8Array, publicKey: KeyObject): Promise<boolean> {
  const key = await webVerifyKey(publicKey, block.alg);
  return subtle.verify(signParams(block.alg), key, block.signature, sigStructure(block.protectedBytes, payload));
}

export async function verifyMac0(block: ParsedAuthBlock, payload: Uint8Array, secret: Uint8Array): Promise<boolean> {
  if (block.alg !== COSE_ALG.HMAC256) throw new ManifestError('algorithm-not-allowed', `MAC algorithm ${block.alg} is not supported`);
  const key = await webHmacKey(secret);
  const expected = new Uint8Array(await subtle.sign('HMAC', key, macStructure(block.protectedBytes, payload)));
  return expected.length === block.signature.length && timingSafeEqual(expected, block.signature);
}
