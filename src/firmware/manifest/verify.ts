import type { KeyObject } from 'node:crypto';
import { COSE_ALG, authAlgName, type AuthAlgName } from './algorithms.js';
import { bytesEqual, toHex } from './cbor.js';
import { type ParsedAuthBlock, parseAuthBlock, verifyMac0, verifySign1 } from './cose.js';
import { type DecodedEnvelope, decodeEnvelope } from './envelope.js';
import { ManifestError } from './errors.js';
import { keyBits, keyFamilyForAlg, keyFamilyOf } from './keys.js';
import type { ParsedManifest } from './types.js';
import { type TrustAnchor, validateChain } from './x509.js';

/** A key the verifier knows by id: a public key for signatures or a shared secret for MACs. */
export interface TrustedKey {
  /** Matched against the COSE kid header (UTF-8). */
  readonly kid: string;
  /** What this key speaks for, e.g. 'author' or 'operator'. */
  readonly role: string;
  readonly publicKey?: KeyObject;
  readonly secret?: Uint8Array;
}

/** Who must have authenticated a manifest. Each requirement must be met by a distinct block. */
export interface SignerPolicy {
  readonly required: ReadonlyArray<{ readonly role?: string; readonly kid?: string }>;
}

export interface KeySizeMinimums {
  readonly rsa: number;
  readonly ec: number;
  readonly hmac: number;
}

export interface VerifyOptions {
  readonly keys?: readonly TrustedKey[];
  readonly trustAnchors?: readonly TrustAnchor[];
  readonly policy?: SignerPolicy;
  /** Defaults to every algorithm we implement. */
  readonly allowedAlgorithms?: readonly AuthAlgName[];
  readonly minKeyBits?: KeySizeMinimums;
  /** Milliseconds since the epoch, for certificate validity (pass clock.now()). */
  readonly now?: number;
}

export interface VerifiedSigner {
  readonly alg: AuthAlgName;
  readonly kind: 'signature' | 'mac';
  readonly role: string;
  /** kid of the trusted key, or the leaf certificate subject for x5chain signatures. */
  readonly id: string;
  readonly keyBits: number;
  readonly viaCertificate: boolean;
}

export interface VerifiedManifest extends ParsedManifest {
  readonly signers: VerifiedSigner[];
  readonly manifestDigest: Uint8Array;
  readonly envelopeSize: number;
}

export const DEFAULT_MIN_KEY_BITS: KeySizeMinimums = { rsa: 2048, ec: 256, hmac: 256 };

function decodeKid(kid: Uint8Array): string {
  return Buffer.from(kid).toString('utf8');
}

function enforceSize(bits: number, alg: number, min: KeySizeMinimums, who: string): void {
  const need = alg === COSE_ALG.HMAC256 ? min.hmac : keyFamilyForAlg(alg) === 'rsa' ? min.rsa : min.ec;
  if (bits < need) throw new ManifestError('key-too-small', `${who} has a ${bits}-bit key; at least ${need} bits required`);
}

async function verifyBlock(block: ParsedAuthBlock, payload: Uint8Array, opts: VerifyOptions, min: KeySizeMinimums): Promise<VerifiedSigner> {
  const alg = authAlgName(block.alg);
  const allowed = opts.allowedAlgorithms ?? ['ES256', 'ESP256', 'EdDSA', 'PS256', 'RS256', 'HMAC256'];
  if (!alg || !allowed.includes(alg)) {
    throw new ManifestError('algorithm-not-allowed', `COSE algorithm ${alg ?? block.alg} is not allowed here (allowed: ${allowed.join(', ')})`);
  }
  const keys = opts.keys ?? [];
  const kid = block.kid ? decodeKid(block.kid) : undefined;

  if (block.kind === 'mac0') {
    if (alg !== 'HMAC256') throw new ManifestError('algorithm-not-allowed', `${alg} cannot be used in COSE_Mac0`);
    const candidates = keys.filter((k) => k.secret && (kid === undefined || k.kid === kid));
    if (candidates.length === 0) throw new ManifestError('unknown-key', `no MAC key${kid ? ` with kid '${kid}'` : ''} is trusted`);
    for (const k of candidates) {
      enforceSize(k.secret!.length * 8, block.alg, min, `MAC key '${k.kid}'`);
      if (await verifyMac0(block, payload, k.secret!)) {
        return { alg, kind: 'mac', role: k.role, id: k.kid, keyBits: k.secret!.length * 8, viaCertificate: false };
      }
    }
    throw new ManifestError('bad-signature', `MAC does not verify${kid ? ` under key '${kid}'` : ''}`);
  }

  if (alg === 'HMAC256') throw new ManifestError('algorithm-not-allowed', 'HMAC cannot be used in COSE_Sign1');
  if (block.x5chain) {
    const chain = validateChain(block.x5chain, opts.trustAnchors ?? [], opts.now ?? Date.now());
    const bits = keyBits(chain.leafKey);
    enforceSize(bits, block.alg, min, `certificate ${chain.leafSubject}`);
    if (keyFamilyOf(chain.leafKey) !== keyFamilyForAlg(block.alg)) throw new ManifestError('bad-signature', `certificate key does not fit algorithm ${alg}`);
    if (!(await verifySign1(block, payload, chain.leafKey))) throw new ManifestError('bad-signature', `signature by ${chain.leafSubject} does not verify`);
    return { alg, kind: 'signature', role: chain.role, id: kid ?? chain.leafSubject, keyBits: bits, viaCertificate: true };
  }

  const family = keyFamilyForAlg(block.alg);
  const candidates = keys.filter((k) => k.publicKey && keyFamilyOf(k.publicKey) === family && (kid === undefined || k.kid === kid));
  if (candidates.length === 0) throw new ManifestError('unknown-key', `no trusted ${alg} key${kid ? ` with kid '${kid}'` : ''}`);
  for (const k of candidates) {
    const bits = keyBits(k.publicKey!);
    enforceSize(bits, block.alg, min, `key '${k.kid}'`);
    if (await verifySign1(block, payload, k.publicKey!)) {
      return { alg, kind: 'signature', role: k.role, id: k.kid, keyBits: bits, viaCertificate: false };
    }
  }
  // With a kid the key was identified and the signature is wrong; without one, no known key made it.
  throw new ManifestError(kid ? 'bad-signature' : 'unknown-key', kid ? `signature by '${kid}' does not verify` : 'signature does not verify under any trusted key');
}

function enforcePolicy(signers: readonly VerifiedSigner[], policy: SignerPolicy): void {
  const used = new Set<number>();
  for (const req of policy.required) {
    const idx = signers.findIndex((s, i) => !used.has(i) && (req.role === undefined || s.role === req.role) && (req.kid === undefined || s.id === req.kid));
    if (idx < 0) {
      const who = [req.role && `role '${req.role}'`, req.kid && `key '${req.kid}'`].filter(Boolean).join(' with ');
      throw new ManifestError('missing-signer', `manifest is not authenticated by ${who || 'anyone'}`);
    }
    used.add(idx);
  }
}

/**
 * Decodes an envelope and checks everything that needs no device state: the manifest digest,
 * every authentication block (all must verify with a known key or trusted chain), allowed
 * algorithms, key sizes and the signer policy.
 */
export async function verifyEnvelope(bytes: Uint8Array, opts: VerifyOptions = {}): Promise<VerifiedManifest> {
  const decoded: DecodedEnvelope = decodeEnvelope(bytes);
  if (decoded.authBlocks.length === 0) throw new ManifestError('missing-signer', 'manifest carries no authentication block');
  if (decoded.authBlocks.length > 8) throw new ManifestError('bad-structure', 'too many authentication blocks');
  const min = opts.minKeyBits ?? DEFAULT_MIN_KEY_BITS;
  const signers: VerifiedSigner[] = [];
  for (const raw of decoded.authBlocks) {
    const block = parseAuthBlock(raw);
    signers.push(await verifyBlock(block, decoded.digestBytes, opts, min));
  }
  enforcePolicy(signers, opts.policy ?? { required: [{}] });
  return { ...decoded.manifest, signers, manifestDigest: decoded.claimedDigest.bytes, envelopeSize: decoded.size };
}

/** Human-readable one-line-per-fact summary, used by the CLI and logs. */
export function describeManifest(m: VerifiedManifest): string {
  const lines = [
    `sequence number: ${m.sequenceNumber}`,
    m.vendorId && `vendor id:       ${toHex(m.vendorId)}`,
    m.classId && `class id:        ${toHex(m.classId)}`,
    m.imageDigest && `image digest:    sha-256 ${toHex(m.imageDigest.bytes)}`,
    m.imageSize !== undefined && `image size:      ${m.imageSize} bytes`,
    m.uri && `uri:             ${m.uri}`,
    `encrypted:       ${m.encryptionInfo ? 'yes' : 'no'}${m.compression ? `, compressed (${m.compression})` : ''}`,
    m.text?.name && `name:            ${m.text.name}`,
    m.text?.version && `version:         ${m.text.version}`,
    `envelope size:   ${m.envelopeSize} bytes`,
    ...m.signers.map((s) => `signed by:       ${s.role} '${s.id}' (${s.alg}, ${s.keyBits}-bit${s.viaCertificate ? ', X.509 chain' : ''})`),
  ];
  return lines.filter(Boolean).join('\n');
}

export function sameId(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && bytesEqual(a, b);
}
