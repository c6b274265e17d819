import { ContentFormat, DecodeError, EncodeError, type NodeCodec } from './types.js';
import { decodeTarget, encodeTarget, singleNode } from './single-value.js';

const FORMAT = ContentFormat.OPAQUE;

/** application/octet-stream: the raw bytes of one opaque resource (firmware packages travel this way). */
export const opaqueCodec: NodeCodec = {
  format: FORMAT,
  encode(node, path, model) {
    const { type, value } = encodeTarget(FORMAT, node, path, model, 'opaque');
    if (type !== 'opaque') throw new EncodeError(FORMAT, `opaque format only carries opaque resources, not ${type}`);
    return value as Buffer;
  },
  decode(payload, path, model) {
    const target = decodeTarget(FORMAT, path, model, 'opaque');
    if (target.type !== undefined && target.type !== 'opaque') {
      throw new DecodeError(FORMAT, `opaque format only carries opaque resources, and this one is ${target.type}`);
    }
    return singleNode(target, 'opaque', Buffer.from(payload));
  },
};
