import type { LwM2mPath } from '../path.js';
import type { LwM2mNode, TimestampedNode } from '../node.js';
import type { ObjectModel } from '../model/types.js';

/** LwM2M content formats (CoAP Content-Format numbers). */
export const ContentFormat = {
  TEXT: 0,
  LINK: 40,
  OPAQUE: 42,
  CBOR: 60,
  SENML_JSON: 110,
  SENML_CBOR: 112,
  TLV: 11542,
  OLD_JSON: 11543,
  LWM2M_CBOR: 11544,
} as const;

export type ContentFormatNumber = (typeof ContentFormat)[keyof typeof ContentFormat];

/** A payload that could not be decoded (or a node that cannot be encoded in a format). */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly format: number,
    reason: string,
  ) {
    super(reason);
  }
}

export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  constructor(
    readonly format: number,
    reason: string,
  ) {
    super(reason);
  }
}

/**
 * One content format. `path` is the path the payload belongs to (the request's target),
 * which decides whether the payload is an object, an instance, a resource or a resource
 * instance; the model gives each resource its type.
 */
export interface NodeCodec {
  readonly format: number;
  encode(node: LwM2mNode, path: LwM2mPath, model: ObjectModel): Buffer;
  decode(payload: Buffer, path: LwM2mPath, model: ObjectModel): LwM2mNode;
}

/**
 * Formats that carry several paths in one payload (SenML JSON/CBOR, LwM2M CBOR):
 * composite read/write/observe and Send (/dp).
 */
export interface MultiNodeCodec extends NodeCodec {
  encodeNodes(nodes: ReadonlyMap<string, LwM2mNode>, model: ObjectModel): Buffer;
  /**
   * Paths in the result are formatted ("/3/0/1"). With `requested` (the paths of a composite
   * request) there is one node per requested path that got values, and values under no
   * requested path are a DecodeError; without it, one node per resource or resource instance.
   */
  decodeNodes(payload: Buffer, model: ObjectModel, requested?: readonly LwM2mPath[]): Map<string, LwM2mNode>;
  /** Keeps the SenML times, for Send and timestamped notifications. */
  decodeTimestamped(payload: Buffer, model: ObjectModel): TimestampedNode[];
  /** Send (/dp) and timestamped notifications; formats without times refuse timestamps. */
  encodeTimestamped(nodes: readonly TimestampedNode[], model: ObjectModel): Buffer;
  /** A composite read/observe request body: the list of paths. */
  encodePaths(paths: readonly LwM2mPath[]): Buffer;
  decodePaths(payload: Buffer): LwM2mPath[];
}
