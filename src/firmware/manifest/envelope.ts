import {
  type CborMap,
  type CborValue,
  Tagged,
  decodeCbor,
  decodeWrapped,
  encodeCbor,
  expectArray,
  expectBytes,
  expectMap,
  expectText,
  expectUint,
} from './cbor.js';
import { type CoseAuthenticator, createAuthBlock } from './cose.js';
import { bstrWrap, checkDigest, digestToCbor, parseDigest, parseWrappedDigest, sha256Digest } from './digest.js';
import { ManifestError } from './errors.js';
import { COMMAND, COMMON, COMPRESSION_ZLIB, ENVELOPE, MANIFEST, PARAMETER, REPORT_POLICY_ALL, SUIT_ENVELOPE_TAG, TEXT } from './suit-constants.js';
import type { ManifestSpec, ManifestText, ParsedManifest, SuitDigest } from './types.js';

// ---------------------------------------------------------------------------------------------
// Building

function textMap(text: ManifestText, componentId: Uint8Array[]): CborMap {
  const component: CborMap = new Map();
  if (text.vendorName) component.set(TEXT.vendorName, text.vendorName);
  if (text.vendorDomain) component.set(TEXT.vendorDomain, text.vendorDomain);
  if (text.name) component.set(TEXT.componentDescription, text.name);
  if (text.version) component.set(TEXT.componentVersion, text.version);
  const map: CborMap = new Map();
  if (text.description) map.set(TEXT.manifestDescription, text.description);
  if (component.size > 0) map.set(componentId, component);
  return map;
}

/** Encodes the manifest described by `spec` and authenticates it with every authenticator, in order. */
export async function buildEnvelope(spec: ManifestSpec, authenticators: readonly CoseAuthenticator[]): Promise<Uint8Array> {
  if (!Number.isSafeInteger(spec.sequenceNumber) || spec.sequenceNumber < 0) throw new ManifestError('bad-structure', 'sequence number must be a non-negative integer');
  const componentId = spec.componentId ?? [new Uint8Array([0])];
  const params: CborMap = new Map<CborValue, CborValue>([
    [PARAMETER.vendorId, spec.vendorId],
    [PARAMETER.classId, spec.classId],
    [PARAMETER.imageDigest, encodeCbor(digestToCbor(spec.imageDigest))],
    [PARAMETER.imageSize, spec.imageSize],
  ]);
  const shared = [COMMAND.overrideParameters, params, COMMAND.vendorIdentifier, REPORT_POLICY_ALL, COMMAND.classIdentifier, REPORT_POLICY_ALL];
  const common: CborMap = new Map<CborValue, CborValue>([
    [COMMON.components, [componentId]],
    [COMMON.sharedSequence, encodeCbor(shared)],
  ]);

  const installParams: CborMap = new Map();
  if (spec.uri !== undefined) installParams.set(PARAMETER.uri, spec.uri);
  if (spec.encryptionInfo) installParams.set(PARAMETER.encryptionInfo, spec.encryptionInfo);
  if (spec.compression === 'zlib') installParams.set(PARAMETER.compressionInfo, encodeCbor(new Map([[1, COMPRESSION_ZLIB]])));
  const install: CborValue[] = [];
  if (installParams.size > 0) install.push(COMMAND.overrideParameters, installParams);
  if (spec.uri !== undefined) install.push(COMMAND.fetch, REPORT_POLICY_ALL);
  install.push(COMMAND.imageMatch, REPORT_POLICY_ALL);

  const manifest: CborMap = new Map<CborValue, CborValue>([
    [MANIFEST.version, 1],
    [MANIFEST.sequenceNumber, spec.sequenceNumber],
    [MANIFEST.common, encodeCbor(common)],
    [MANIFEST.validate, encodeCbor([COMMAND.imageMatch, REPORT_POLICY_ALL])],
    [MANIFEST.invoke, encodeCbor([COMMAND.invoke, REPORT_POLICY_ALL])],
    [MANIFEST.install, encodeCbor(install)],
  ]);

  // Text is severable: the manifest carries only its digest, so a device can drop the text
  // and still verify the signature.
  let textBytes: Uint8Array | undefined;
  if (spec.text && Object.values(spec.text).some((v) => v)) {
    textBytes = encodeCbor(textMap(spec.text, componentId));
    manifest.set(MANIFEST.text, digestToCbor(sha256Digest(bstrWrap(textBytes))));
  }

  const manifestBytes = encodeCbor(manifest);
  const digestBytes = encodeCbor(digestToCbor(sha256Digest(bstrWrap(manifestBytes))));
  const blocks: Uint8Array[] = [];
  for (const auth of authenticators) blocks.push(await createAuthBlock(digestBytes, auth));

  const envelope: CborMap = new Map<CborValue, CborValue>([
    [ENVELOPE.authenticationWrapper, encodeCbor([digestBytes, ...blocks])],
    [ENVELOPE.manifest, manifestBytes],
  ]);
  if (textBytes) envelope.set(MANIFEST.text, textBytes);
  return encodeCbor(new Tagged(SUIT_ENVELOPE_TAG, envelope));
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface DecodedEnvelope {
  /** The manifest as carried (inner bytes of the bstr). */
  readonly manifestBytes: Uint8Array;
  /** The digest the authentication wrapper claims for the bstr-wrapped manifest. */
  readonly claimedDigest: SuitDigest;
  /** The encoded SUIT_Digest: the detached payload of every COSE block. */
  readonly digestBytes: Uint8Array;
  readonly authBlocks: Uint8Array[];
  readonly manifest: ParsedManifest;
  readonly size: number;
}

/**
 * Manifest members that hold command sequences (or text). 15/18/24 come from the trust-domains
 * draft; 17 is where earlier revisions of the manifest draft put install, and the draft's own
 * published examples still use it.
 */
const SEQUENCE_LABELS = new Set<number>([
  MANIFEST.validate, MANIFEST.load, MANIFEST.invoke, 15, MANIFEST.payloadFetch, 17, 18, MANIFEST.install, MANIFEST.text, 24,
]);

interface WalkState {
  index: number[];
  params: Map<number, CborValue>;
  checksVendor: boolean;
  checksClass: boolean;
}

function walkSequence(bytes: Uint8Array, state: WalkState, what: string, depth = 0): void {
  if (depth > 8) throw new ManifestError('bad-structure', `${what}: command sequences nested too deep`);
  const seq = expectArray(decodeCbor(bytes), what);
  if (seq.length % 2 !== 0) throw new ManifestError('bad-structure', `${what} must hold command/argument pairs`);
  for (let i = 0; i < seq.length; i += 2) {
    const cmd = seq[i];
    const arg = seq[i + 1];
    if (typeof cmd !== 'number' || !Number.isInteger(cmd)) throw new ManifestError('bad-structure', `${what}: command label must be an integer`);
    switch (cmd) {
      case COMMAND.setComponentIndex:
        if (arg === true) state.index = [-1];
        else if (Array.isArray(arg)) state.index = arg.map((v) => expectUint(v, 'component index'));
        else state.index = [expectUint(arg, 'component index')];
        break;
      case COMMAND.overrideParameters:
      case 19 /* set-parameters */: {
        const params = expectMap(arg, `${what}: parameters`);
        if (state.index.includes(0) || state.index.includes(-1)) {
          for (const [k, v] of params) {
            if (typeof k !== 'number') throw new ManifestError('bad-structure', `${what}: parameter label must be an integer`);
            if (cmd === COMMAND.overrideParameters || !state.params.has(k)) state.params.set(k, v);
          }
        }
        break;
      }
      case COMMAND.vendorIdentifier:
        state.checksVendor = true;
        break;
      case COMMAND.classIdentifier:
        state.checksClass = true;
        break;
      case COMMAND.tryEach:
        for (const alt of expectArray(arg, `${what}: try-each`)) {
          if (alt !== null) walkSequence(expectBytes(alt, 'try-each alternative'), state, what, depth + 1);
        }
        break;
      case COMMAND.runSequence:
        walkSequence(expectBytes(arg, 'run-sequence'), state, what, depth + 1);
        break;
      default:
        break;
    }
  }
}

function parseText(bytes: Uint8Array): ManifestText {
  let map = expectMap(decodeCbor(bytes), 'text');
  // Later drafts key the text by language tag; take English, else the first language.
  const languages = [...map.keys()].filter((k): k is string => typeof k === 'string');
  if (languages.length > 0) map = expectMap(map.get(languages.includes('en') ? 'en' : languages[0]) ?? null, 'text for language');
  const out: { -readonly [K in keyof ManifestText]: ManifestText[K] } = {};
  const desc = map.get(TEXT.manifestDescription);
  if (desc !== undefined) out.description = expectText(desc, 'manifest description');
  for (const [k, v] of map) {
    if (!Array.isArray(k)) continue;
    const comp = expectMap(v, 'component text');
    const str = (label: number) => (comp.has(label) ? expectText(comp.get(label) ?? null, 'component text') : undefined);
    out.vendorName ??= str(TEXT.vendorName);
    out.vendorDomain ??= str(TEXT.vendorDomain);
    out.name ??= str(TEXT.componentDescription);
    out.version ??= str(TEXT.componentVersion);
  }
  return out;
}

function optionalId(v: CborValue | undefined, what: string): Uint8Array | undefined {
  if (v === undefined) return undefined;
  // Vendor ids may also be a CBOR PEN (tag 112).
  if (v instanceof Tagged && v.tag === 112) return expectBytes(v.value, what);
  return expectBytes(v, what);
}

/** Parses a SUIT_Manifest and the severed members that came with it. */
export function parseManifest(manifestBytes: Uint8Array, severed: ReadonlyMap<number, Uint8Array> = new Map()): ParsedManifest {
  const m = expectMap(decodeCbor(manifestBytes), 'manifest');
  const version = expectUint(m.get(MANIFEST.version) ?? null, 'manifest-version');
  if (version !== 1) throw new ManifestError('unsupported', `manifest-version ${version} is not supported`);
  const sequenceNumber = expectUint(m.get(MANIFEST.sequenceNumber) ?? null, 'manifest-sequence-number');
  const common = expectMap(decodeWrapped(m.get(MANIFEST.common) ?? null, 'common'), 'common');
  const components = expectArray(common.get(COMMON.components) ?? [], 'components').map((c) =>
    expectArray(c, 'component identifier').map((p) => expectBytes(p, 'component identifier part')),
  );

  const state: WalkState = { index: [0], params: new Map(), checksVendor: false, checksClass: false };
  const shared = common.get(COMMON.sharedSequence);
  if (shared !== undefined) walkSequence(expectBytes(shared, 'shared-sequence'), state, 'shared-sequence');

  const sequences: number[] = [];
  let text: ManifestText | undefined;
  for (const [label, value] of m) {
    if (typeof label !== 'number' || !SEQUENCE_LABELS.has(label)) continue;
    sequences.push(label);
    let body: Uint8Array | undefined;
    if (value instanceof Uint8Array) {
      body = value;
    } else if (Array.isArray(value)) {
      // Severable member kept outside the signed manifest: only its digest is here.
      const digest = parseDigest(value, `digest of member ${label}`);
      const member = severed.get(label);
      if (member) {
        checkDigest(digest, bstrWrap(member), `severed member ${label}`);
        body = member;
      }
    } else {
      throw new ManifestError('bad-structure', `manifest member ${label} must be a bstr or a digest`);
    }
    if (!body) continue;
    if (label === MANIFEST.text) text = parseText(body);
    else {
      state.index = [0];
      walkSequence(body, state, `manifest member ${label}`);
    }
  }
  for (const label of severed.keys()) {
    if (!Array.isArray(m.get(label))) throw new ManifestError('bad-structure', `envelope carries member ${label} that the manifest does not reference by digest`);
  }

  const p = state.params;
  const digestParam = p.get(PARAMETER.imageDigest);
  const sizeParam = p.get(PARAMETER.imageSize);
  const uriParam = p.get(PARAMETER.uri);
  const encParam = p.get(PARAMETER.encryptionInfo);
  const compParam = p.get(PARAMETER.compressionInfo);
  let compression: 'zlib' | undefined;
  if (compParam !== undefined) {
    const info = expectMap(decodeWrapped(compParam, 'compression-info'), 'compression-info');
    const alg = info.get(1);
    if (alg !== COMPRESSION_ZLIB) throw new ManifestError('unsupported', `compression algorithm ${String(alg)} is not supported`);
    compression = 'zlib';
  }
  return {
    version,
    sequenceNumber,
    components,
    vendorId: optionalId(p.get(PARAMETER.vendorId), 'vendor-id'),
    classId: optionalId(p.get(PARAMETER.classId), 'class-id'),
    imageDigest: digestParam === undefined ? undefined : parseWrappedDigest(digestParam, 'image-digest'),
    imageSize: sizeParam === undefined ? undefined : expectUint(sizeParam, 'image-size'),
    uri: uriParam === undefined ? undefined : expectText(uriParam, 'uri'),
    encryptionInfo: encParam === undefined ? undefined : expectBytes(encParam, 'encryption-info'),
    compression,
    checksVendor: state.checksVendor,
    checksClass: state.checksClass,
    text,
    sequences,
  };
}

/** Decodes an envelope's structure. Integrity and authenticity are checked by verifyEnvelope(). */
export function decodeEnvelope(bytes: Uint8Array): DecodedEnvelope {
  const top = decodeCbor(bytes);
  const env = expectMap(top instanceof Tagged && top.tag === SUIT_ENVELOPE_TAG ? top.value : top, 'envelope');
  const auth = expectArray(decodeWrapped(env.get(ENVELOPE.authenticationWrapper) ?? null, 'authentication-wrapper'), 'authentication-wrapper');
  if (auth.length < 1) throw new ManifestError('bad-structure', 'authentication-wrapper holds no digest');
  const digestBytes = expectBytes(auth[0], 'manifest digest');
  const claimedDigest = parseDigest(decodeCbor(digestBytes), 'manifest digest');
  const authBlocks = auth.slice(1).map((b) => expectBytes(b, 'authentication block'));
  const manifestBytes = expectBytes(env.get(ENVELOPE.manifest) ?? null, 'manifest');
  // Integrity first, so nothing below looks at bytes the signature does not cover.
  checkDigest(claimedDigest, bstrWrap(manifestBytes), 'manifest');
  const severed = new Map<number, Uint8Array>();
  for (const [k, v] of env) {
    if (typeof k === 'number' && k !== ENVELOPE.authenticationWrapper && k !== ENVELOPE.manifest) {
      if (k === 1) throw new ManifestError('unsupported', 'delegation chains are not supported');
      severed.set(k, expectBytes(v, `severed member ${k}`));
    }
  }
  const manifest = parseManifest(manifestBytes, severed);
  return { manifestBytes, claimedDigest, digestBytes, authBlocks, manifest, size: bytes.length };
}
