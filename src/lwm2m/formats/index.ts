import type { LwM2mNode } from '../node.js';
import type { LwM2mPath } from '../path.js';
import type { ObjectModel } from '../model/types.js';
import { ContentFormat, DecodeError, EncodeError, type MultiNodeCodec, type NodeCodec } from './types.js';
import { textCodec } from './text.js';
import { opaqueCodec } from './opaque.js';
import { tlvCodec } from './tlv.js';
import { senmlJsonCodec } from './senml-json.js';
import { senmlCborCodec } from './senml-cbor.js';
import { lwm2mCborCodec } from './lwm2m-cbor.js';
import { oldJsonCodec } from './old-json.js';

export { ContentFormat, DecodeError, EncodeError } from './types.js';
export type { ContentFormatNumber, MultiNodeCodec, NodeCodec } from './types.js';
export { createSenmlJsonCodec } from './senml-json.js';
export { createSenmlCborCodec } from './senml-cbor.js';
export type { SenmlOptions } from './senml.js';

const CODECS = new Map<number, NodeCodec>(
  [textCodec, opaqueCodec, tlvCodec, senmlJsonCodec, senmlCborCodec, lwm2mCborCodec, oldJsonCodec].map((c) => [c.format, c]),
);

const MULTI_CODECS = new Map<number, MultiNodeCodec>(
  [senmlJsonCodec, senmlCborCodec, lwm2mCborCodec].map((c) => [c.format, c]),
);

const NAMES: Record<number, string> = {
  [ContentFormat.TEXT]: 'text/plain',
  [ContentFormat.LINK]: 'application/link-format',
  [ContentFormat.OPAQUE]: 'application/octet-stream',
  [ContentFormat.CBOR]: 'application/cbor',
  [ContentFormat.SENML_JSON]: 'application/senml+json',
  [ContentFormat.SENML_CBOR]: 'application/senml+cbor',
  [ContentFormat.TLV]: 'application/vnd.oma.lwm2m+tlv',
  [ContentFormat.OLD_JSON]: 'application/vnd.oma.lwm2m+json',
  [ContentFormat.LWM2M_CBOR]: 'application/vnd.oma.lwm2m+cbor',
};

/** The codec of a node format (link-format is not one: discover responses are parsed elsewhere). */
export function codecFor(format: number): NodeCodec | undefined {
  return CODECS.get(format);
}

export function multiCodecFor(format: number): MultiNodeCodec | undefined {
  return MULTI_CODECS.get(format);
}

/** True for the formats codecFor knows (decoding; old LwM2M JSON cannot be encoded). */
export function isSupportedFormat(format: number): boolean {
  return CODECS.has(format);
}

/** The media type, or "format N" for numbers we do not know. */
export function formatName(format: number): string {
  return NAMES[format] ?? `format ${format}`;
}

export function encodeNode(format: number, node: LwM2mNode, path: LwM2mPath, model: ObjectModel): Buffer {
  const codec = CODECS.get(format);
  if (!codec) throw new EncodeError(format, `unsupported content format ${formatName(format)}`);
  return guard(format, EncodeError, () => codec.encode(node, path, model));
}

export function decodeNode(format: number, payload: Buffer, path: LwM2mPath, model: ObjectModel): LwM2mNode {
  const codec = CODECS.get(format);
  if (!codec) throw new DecodeError(format, `unsupported content format ${formatName(format)}`);
  return guard(format, DecodeError, () => codec.decode(payload, path, model));
}

/** Last line of defence: whatever a codec misses still surfaces as the format's own error. */
function guard<T>(format: number, ErrorClass: typeof EncodeError | typeof DecodeError, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof EncodeError || err instanceof DecodeError) throw err;
    throw new ErrorClass(format, `unexpected failure: ${(err as Error).message}`);
  }
}
