/**
 * The one file a paired device receives through Object 5: the SUIT envelope with its
 * payload integrated (draft-ietf-suit-manifest "integrated payload": an extra envelope
 * member keyed by a text string, named by the manifest's URI "#…" when it has one). The
 * signatures cover the manifest only; the payload is bound by the image digest inside it,
 * so adding the member changes nothing a verifier checks, and decodeEnvelope() ignores it.
 */
import { type CborMap, Tagged, decodeCbor, encodeCbor } from '../manifest/cbor.js';
import { ManifestError } from '../manifest/errors.js';
import { SUIT_ENVELOPE_TAG } from '../manifest/suit-constants.js';

export const INTEGRATED_PAYLOAD_KEY = '#payload';

function envelopeMap(bytes: Uint8Array): CborMap {
  const top = decodeCbor(bytes);
  const map = top instanceof Tagged && top.tag === SUIT_ENVELOPE_TAG ? top.value : top;
  if (!(map instanceof Map)) throw new ManifestError('bad-structure', 'a SUIT envelope must be a CBOR map');
  return map;
}

/** Envelope + payload → the package (the envelope's other members untouched). */
export function integratePayload(envelope: Uint8Array, payload: Uint8Array): Uint8Array {
  const map = envelopeMap(envelope);
  for (const key of map.keys()) if (typeof key === 'string') throw new ManifestError('bad-structure', `the envelope already integrates a payload ("${key}")`);
  map.set(INTEGRATED_PAYLOAD_KEY, payload);
  return encodeCbor(new Tagged(SUIT_ENVELOPE_TAG, map));
}

/** Whether the bytes look like a SUIT envelope at all (tag 107), before any real decoding. */
export function looksLikeSuit(bytes: Uint8Array): boolean {
  return bytes.length > 2 && bytes[0] === 0xd8 && bytes[1] === SUIT_ENVELOPE_TAG;
}

/**
 * The package's envelope (for verifyEnvelope, which ignores the payload member) and its
 * payload; throws ManifestError when either is missing or not well formed.
 */
export function splitPackage(bytes: Uint8Array): { envelope: Uint8Array; payload: Uint8Array } {
  const map = envelopeMap(bytes);
  const payloads = [...map.entries()].filter(([key]) => typeof key === 'string');
  if (payloads.length !== 1) throw new ManifestError('bad-structure', `a package must integrate exactly one payload, found ${payloads.length}`);
  const payload = payloads[0][1];
  if (!(payload instanceof Uint8Array)) throw new ManifestError('bad-structure', 'the integrated payload must be a byte string');
  return { envelope: bytes, payload };
}
