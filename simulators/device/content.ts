/**
 * Payload encoding for the device: which content format answers a request, and encode/
 * decode through the shared codecs with their failures turned into the device's answer
 * codes (4.06 for a format it cannot produce, 4.15 for one it cannot read, 4.00 for a
 * payload that does not decode).
 */
import { CoapCode } from '../../src/coap/types.js';
import { codecFor, multiCodecFor } from '../../src/lwm2m/formats/index.js';
import { ContentFormat, DecodeError, EncodeError, type MultiNodeCodec } from '../../src/lwm2m/formats/types.js';
import type { ObjectModel } from '../../src/lwm2m/model/types.js';
import type { LwM2mNode } from '../../src/lwm2m/node.js';
import type { LwM2mPath } from '../../src/lwm2m/path.js';
import { OperationError } from './object-tree.js';

export type Lwm2mVersion = '1.0' | '1.1' | '1.2';

/** What a device answers when the request has no Accept option. */
export function defaultFormat(version: Lwm2mVersion, preferred: number | undefined): number {
  if (preferred !== undefined) return preferred;
  return version === '1.0' ? ContentFormat.TLV : ContentFormat.SENML_CBOR;
}

export function encodeFor(format: number, node: LwM2mNode, path: LwM2mPath, model: ObjectModel): Buffer {
  const codec = codecFor(format);
  if (!codec) throw new OperationError(CoapCode.NotAcceptable, `content format ${format} is not supported`);
  try {
    return codec.encode(node, path, model);
  } catch (error) {
    if (error instanceof EncodeError) throw new OperationError(CoapCode.NotAcceptable, error.message);
    throw error;
  }
}

export function decodeFor(format: number | undefined, payload: Buffer, path: LwM2mPath, model: ObjectModel): LwM2mNode {
  if (format === undefined) throw new OperationError(CoapCode.BadRequest, 'a payload needs a Content-Format');
  const codec = codecFor(format);
  if (!codec) throw new OperationError(CoapCode.UnsupportedContentFormat, `content format ${format} is not supported`);
  try {
    return codec.decode(payload, path, model);
  } catch (error) {
    if (error instanceof DecodeError) throw new OperationError(CoapCode.BadRequest, error.message);
    throw error;
  }
}

export function multiCodec(format: number | undefined, code: number): MultiNodeCodec {
  const codec = format === undefined ? undefined : multiCodecFor(format);
  if (!codec) throw new OperationError(code, `content format ${format ?? 'none'} cannot carry several paths`);
  return codec;
}

export function encodeComposite(format: number, nodes: ReadonlyMap<string, LwM2mNode>, model: ObjectModel): Buffer {
  const codec = multiCodec(format, CoapCode.NotAcceptable);
  try {
    return codec.encodeNodes(nodes, model);
  } catch (error) {
    if (error instanceof EncodeError) throw new OperationError(CoapCode.NotAcceptable, error.message);
    throw error;
  }
}

export function decodePathList(format: number | undefined, payload: Buffer): LwM2mPath[] {
  const codec = multiCodec(format, CoapCode.UnsupportedContentFormat);
  try {
    return codec.decodePaths(payload);
  } catch (error) {
    if (error instanceof DecodeError) throw new OperationError(CoapCode.BadRequest, error.message);
    throw error;
  }
}
