import type { LwM2mNode, ObjectInstance, ObjectLink, Resource, ResourceType, ResourceValue } from '../node.js';
import { formatPath, pathIds, pathLevel, type LwM2mPath } from '../path.js';
import type { ObjectModel } from '../model/types.js';
import { ContentFormat, DecodeError, EncodeError, type NodeCodec } from './types.js';
import { checkEncodable, encodingType, isMultipleInModel, modelType, nodeBaseIds } from './tree.js';
import { dateFromSeconds, decodeUtf8, normalizeInteger, secondsFromDate, toBigInt } from './values.js';

/**
 * OMA TLV (LwM2M 1.1 core §7.4.3). Type byte: bits 7-6 identifier kind, bit 5 16-bit id,
 * bits 4-3 length field size (0 = length in bits 2-0, else 8/16/24-bit length field).
 *
 * Number rules: integers use the fewest of 1/2/4/8 bytes (two's complement; unsigned
 * integers as unsigned). Floats use 4 bytes when the value survives the round trip through
 * a 32-bit float exactly (Math.fround(v) === v), otherwise 8, so no precision is ever lost.
 * Resources the model does not know decode as opaque bytes.
 */
const FORMAT = ContentFormat.TLV;

const enum Kind {
  ObjectInstance = 0,
  ResourceInstance = 1,
  MultipleResource = 2,
  ResourceWithValue = 3,
}

const KIND_NAMES = ['object instance', 'resource instance', 'multiple resource', 'resource'];

interface Tlv {
  kind: Kind;
  id: number;
  value: Buffer;
}

// ---------- encoding ----------

function header(kind: Kind, id: number, length: number): Buffer {
  if (id > 0xffff) throw new EncodeError(FORMAT, `id ${id} is above 65535`);
  if (length > 0xffffff) throw new EncodeError(FORMAT, `value of ${length} bytes is too long for TLV`);
  const wideId = id > 0xff;
  const lengthBytes = length < 8 ? 0 : length <= 0xff ? 1 : length <= 0xffff ? 2 : 3;
  const out = Buffer.alloc(1 + (wideId ? 2 : 1) + lengthBytes);
  out[0] = (kind << 6) | (wideId ? 0x20 : 0) | (lengthBytes << 3) | (lengthBytes === 0 ? length : 0);
  let offset = 1;
  if (wideId) offset = out.writeUInt16BE(id, offset);
  else offset = out.writeUInt8(id, offset);
  if (lengthBytes > 0) out.writeUIntBE(length, offset, lengthBytes);
  return out;
}

function tlv(kind: Kind, id: number, value: Buffer): Buffer {
  return Buffer.concat([header(kind, id, value.length), value]);
}

function encodeSigned(value: bigint): Buffer {
  if (value >= -0x80n && value <= 0x7fn) return Buffer.from([Number(value) & 0xff]);
  if (value >= -0x8000n && value <= 0x7fffn) {
    const b = Buffer.alloc(2);
    b.writeInt16BE(Number(value));
    return b;
  }
  if (value >= -0x80000000n && value <= 0x7fffffffn) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(Number(value));
    return b;
  }
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(value);
  return b;
}

function encodeUnsigned(value: bigint): Buffer {
  for (const size of [1, 2, 4]) {
    if (value < 1n << BigInt(size * 8)) {
      const b = Buffer.alloc(size);
      b.writeUIntBE(Number(value), 0, size);
      return b;
    }
  }
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(value);
  return b;
}

export function encodeTlvValue(type: ResourceType, value: ResourceValue): Buffer {
  switch (type) {
    case 'string':
    case 'corelnk':
      return Buffer.from(value as string, 'utf8');
    case 'integer':
      return encodeSigned(toBigInt(value as number | bigint));
    case 'unsigned':
      return encodeUnsigned(toBigInt(value as number | bigint));
    case 'time':
      return encodeSigned(BigInt(secondsFromDate(value as Date)));
    case 'float': {
      const n = value as number;
      if (Math.fround(n) === n) {
        const b = Buffer.alloc(4);
        b.writeFloatBE(n);
        return b;
      }
      const b = Buffer.alloc(8);
      b.writeDoubleBE(n);
      return b;
    }
    case 'boolean':
      return Buffer.from([value ? 1 : 0]);
    case 'opaque':
      return value as Buffer;
    case 'objlnk': {
      const link = value as ObjectLink;
      const b = Buffer.alloc(4);
      b.writeUInt16BE(link.objectId, 0);
      b.writeUInt16BE(link.instanceId, 2);
      return b;
    }
    case 'none':
      throw new EncodeError(FORMAT, 'an executable resource has no value');
  }
}

function encodeResource(res: Resource, objectId: number, model: ObjectModel): Buffer {
  const type = encodingType(FORMAT, model, objectId, res.id, res.type);
  if (res.kind === 'singleResource') {
    checkEncodable(FORMAT, type, res.value, `resource ${res.id}`);
    return tlv(Kind.ResourceWithValue, res.id, encodeTlvValue(type, res.value));
  }
  const instances = [...res.values.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([riid, value]) => {
      checkEncodable(FORMAT, type, value, `resource ${res.id} instance ${riid}`);
      return tlv(Kind.ResourceInstance, riid, encodeTlvValue(type, value));
    });
  return tlv(Kind.MultipleResource, res.id, Buffer.concat(instances));
}

function encodeInstanceBody(inst: ObjectInstance, objectId: number, model: ObjectModel): Buffer {
  return Buffer.concat(inst.resources.map((res) => encodeResource(res, objectId, model)));
}

// ---------- decoding ----------

function fail(reason: string): never {
  throw new DecodeError(FORMAT, reason);
}

/** Splits a buffer into TLVs, checking every header and length against the bytes present. */
export function parseTlvs(buf: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const start = offset;
    const typeByte = buf[offset++];
    const kind = (typeByte >> 6) as Kind;
    const idBytes = typeByte & 0x20 ? 2 : 1;
    const lengthBytes = (typeByte >> 3) & 0x03;
    if (offset + idBytes + lengthBytes > buf.length) fail(`TLV header at byte ${start} is truncated`);
    const id = idBytes === 2 ? buf.readUInt16BE(offset) : buf[offset];
    offset += idBytes;
    const length = lengthBytes === 0 ? typeByte & 0x07 : buf.readUIntBE(offset, lengthBytes);
    offset += lengthBytes;
    if (offset + length > buf.length) {
      fail(`TLV at byte ${start} claims ${length} bytes but only ${buf.length - offset} remain`);
    }
    out.push({ kind, id, value: buf.subarray(offset, offset + length) });
    offset += length;
  }
  return out;
}

export function decodeTlvValue(type: ResourceType, bytes: Buffer, where: string): ResourceValue {
  const bad = (what: string): never => fail(`${where}: ${what}`);
  switch (type) {
    case 'string':
    case 'corelnk':
    case 'none':
      return decodeUtf8(bytes) ?? bad('string is not valid UTF-8');
    case 'integer':
    case 'time': {
      if (![1, 2, 4, 8].includes(bytes.length)) bad(`an integer takes 1, 2, 4 or 8 bytes, not ${bytes.length}`);
      const big = bytes.length === 8 ? bytes.readBigInt64BE() : BigInt(bytes.readIntBE(0, bytes.length));
      if (type === 'integer') return normalizeInteger(big);
      return dateFromSeconds(big) ?? bad(`time ${big} is out of range`);
    }
    case 'unsigned': {
      if (![1, 2, 4, 8].includes(bytes.length)) bad(`an unsigned integer takes 1, 2, 4 or 8 bytes, not ${bytes.length}`);
      const big = bytes.length === 8 ? bytes.readBigUInt64BE() : BigInt(bytes.readUIntBE(0, bytes.length));
      return normalizeInteger(big);
    }
    case 'float':
      if (bytes.length === 4) return bytes.readFloatBE();
      if (bytes.length === 8) return bytes.readDoubleBE();
      return bad(`a float takes 4 or 8 bytes, not ${bytes.length}`);
    case 'boolean':
      if (bytes.length !== 1 || bytes[0] > 1) bad('a boolean is one byte, 0 or 1');
      return bytes[0] === 1;
    case 'opaque':
      return Buffer.from(bytes);
    case 'objlnk':
      if (bytes.length !== 4) bad(`an object link takes 4 bytes, not ${bytes.length}`);
      return { objectId: bytes.readUInt16BE(0), instanceId: bytes.readUInt16BE(2) };
  }
}

function checkUniqueIds(tlvs: Tlv[], where: string): void {
  const seen = new Set<number>();
  for (const t of tlvs) {
    if (seen.has(t.id)) fail(`${where}: id ${t.id} appears twice`);
    seen.add(t.id);
  }
}

function decodeResource(t: Tlv, objectId: number, instanceId: number, model: ObjectModel): Resource {
  const where = `/${objectId}/${instanceId}/${t.id}`;
  const type = modelType(model, objectId, t.id) ?? 'opaque';
  if (t.kind === Kind.ResourceWithValue) {
    return { kind: 'singleResource', id: t.id, type, value: decodeTlvValue(type, t.value, where) };
  }
  if (t.kind !== Kind.MultipleResource) fail(`${where}: expected a resource, got a ${KIND_NAMES[t.kind]}`);
  const children = parseTlvs(t.value);
  checkUniqueIds(children, where);
  const values = new Map<number, ResourceValue>();
  for (const child of [...children].sort((a, b) => a.id - b.id)) {
    if (child.kind !== Kind.ResourceInstance) fail(`${where}: expected resource instances, got a ${KIND_NAMES[child.kind]}`);
    values.set(child.id, decodeTlvValue(type, child.value, `${where}/${child.id}`));
  }
  return { kind: 'multiResource', id: t.id, type, values };
}

function decodeResources(tlvs: Tlv[], objectId: number, instanceId: number, model: ObjectModel): Resource[] {
  checkUniqueIds(tlvs, `/${objectId}/${instanceId}`);
  return tlvs.map((t) => decodeResource(t, objectId, instanceId, model));
}

function decodeInstance(tlvs: Tlv[], objectId: number, instanceId: number, model: ObjectModel): ObjectInstance {
  // Some clients wrap an instance's resources in an object instance TLV even for /o/i.
  if (tlvs.length === 1 && tlvs[0].kind === Kind.ObjectInstance) {
    if (tlvs[0].id !== instanceId) fail(`payload holds instance ${tlvs[0].id}, not ${instanceId}`);
    tlvs = parseTlvs(tlvs[0].value);
  }
  return { kind: 'instance', id: instanceId, resources: decodeResources(tlvs, objectId, instanceId, model) };
}

function decodeTlv(payload: Buffer, path: LwM2mPath, model: ObjectModel): LwM2mNode {
  const ids = pathIds(path);
  const tlvs = parseTlvs(payload);
  switch (pathLevel(path)) {
    case 'root':
      return fail('TLV cannot be decoded for the root path');
    case 'object': {
      const [objectId] = ids;
      if (tlvs.length > 0 && tlvs.every((t) => t.kind !== Kind.ObjectInstance)) {
        // LwM2M 1.0 clients may omit the instance level for a single-instance object.
        return { kind: 'obj', id: objectId, instances: [decodeInstance(tlvs, objectId, 0, model)] };
      }
      checkUniqueIds(tlvs, formatPath(path));
      const instances = tlvs.map((t) => {
        if (t.kind !== Kind.ObjectInstance) fail(`${formatPath(path)}: mixes object instances and ${KIND_NAMES[t.kind]}s`);
        return decodeInstance(parseTlvs(t.value), objectId, t.id, model);
      });
      return { kind: 'obj', id: objectId, instances: instances.sort((a, b) => a.id - b.id) };
    }
    case 'instance':
      return decodeInstance(tlvs, ids[0], ids[1], model);
    case 'resource': {
      const [objectId, instanceId, resourceId] = ids;
      if (tlvs.length > 0 && tlvs.every((t) => t.kind === Kind.ResourceInstance)) {
        // Resource instances without the enclosing multiple-resource TLV.
        return decodeResource({ kind: Kind.MultipleResource, id: resourceId, value: payload }, objectId, instanceId, model);
      }
      if (tlvs.length === 0 && isMultipleInModel(model, objectId, resourceId)) {
        return { kind: 'multiResource', id: resourceId, type: modelType(model, objectId, resourceId) ?? 'opaque', values: new Map() };
      }
      if (tlvs.length !== 1) fail(`${formatPath(path)}: expected one resource TLV, got ${tlvs.length}`);
      if (tlvs[0].id !== resourceId) fail(`payload holds resource ${tlvs[0].id}, not ${resourceId}`);
      return decodeResource(tlvs[0], objectId, instanceId, model);
    }
    case 'resourceInstance': {
      const [objectId, , resourceId, riid] = ids;
      if (tlvs.length !== 1 || tlvs[0].kind !== Kind.ResourceInstance) {
        fail(`${formatPath(path)}: expected one resource instance TLV`);
      }
      if (tlvs[0].id !== riid) fail(`payload holds resource instance ${tlvs[0].id}, not ${riid}`);
      const type = modelType(model, objectId, resourceId) ?? 'opaque';
      return { kind: 'resourceInstance', id: riid, type, value: decodeTlvValue(type, tlvs[0].value, formatPath(path)) };
    }
  }
}

export const tlvCodec: NodeCodec = {
  format: FORMAT,
  encode(node, path, model) {
    const ids = nodeBaseIds(FORMAT, node, path);
    const objectId = ids[0];
    switch (node.kind) {
      case 'obj':
        return Buffer.concat(
          node.instances.map((inst) => tlv(Kind.ObjectInstance, inst.id, encodeInstanceBody(inst, objectId, model))),
        );
      case 'instance':
        // Written at /o (create), the instance id must travel in an object instance TLV.
        return pathLevel(path) === 'object'
          ? tlv(Kind.ObjectInstance, node.id, encodeInstanceBody(node, objectId, model))
          : encodeInstanceBody(node, objectId, model);
      case 'singleResource':
      case 'multiResource':
        return encodeResource(node, objectId, model);
      case 'resourceInstance': {
        const type = encodingType(FORMAT, model, objectId, ids[2], node.type);
        checkEncodable(FORMAT, type, node.value, '/' + ids.join('/'));
        return tlv(Kind.ResourceInstance, node.id, encodeTlvValue(type, node.value));
      }
    }
  },
  decode: decodeTlv,
};
