import { describe, expect, it } from 'vitest';
import {
  codecFor,
  ContentFormat,
  DecodeError,
  decodeNode,
  EncodeError,
  encodeNode,
  formatName,
  isSupportedFormat,
  multiCodecFor,
} from '../../../../src/lwm2m/formats/index.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import { parsePath } from '../../../../src/lwm2m/path.js';

const model = loadObjectModel();

describe('formats index', () => {
  it('knows which formats it supports', () => {
    expect([0, 42, 110, 112, 11542, 11543, 11544].map(isSupportedFormat)).toEqual([true, true, true, true, true, true, true]);
    expect([40, 60, 50, 1].map(isSupportedFormat)).toEqual([false, false, false, false]);
    expect(codecFor(ContentFormat.TLV)?.format).toBe(11542);
    expect(multiCodecFor(ContentFormat.SENML_CBOR)?.format).toBe(112);
    expect(multiCodecFor(ContentFormat.LWM2M_CBOR)?.format).toBe(11544);
    expect(multiCodecFor(ContentFormat.TLV)).toBeUndefined();
    expect(formatName(11542)).toBe('application/vnd.oma.lwm2m+tlv');
    expect(formatName(110)).toBe('application/senml+json');
    expect(formatName(9999)).toBe('format 9999');
  });

  it('encodes and decodes through the format number', () => {
    const node = { kind: 'singleResource', id: 1, type: 'string', value: 'coap://fw.example/1.2.bin' } as const;
    const bytes = encodeNode(ContentFormat.TEXT, node, parsePath('/5/0/1'), model);
    expect(bytes.toString()).toBe('coap://fw.example/1.2.bin');
    expect(decodeNode(ContentFormat.TEXT, bytes, parsePath('/5/0/1'), model)).toEqual(node);
  });

  it('reports unsupported formats as EncodeError / DecodeError', () => {
    expect(() => encodeNode(60, { kind: 'singleResource', id: 0, type: 'string', value: 'x' }, parsePath('/3/0/0'), model)).toThrow(EncodeError);
    expect(() => decodeNode(40, Buffer.from('</3/0>'), parsePath('/3/0'), model)).toThrow(DecodeError);
    expect(() => decodeNode(40, Buffer.from('</3/0>'), parsePath('/3/0'), model)).toThrow('unsupported content format application/link-format');
  });
});
