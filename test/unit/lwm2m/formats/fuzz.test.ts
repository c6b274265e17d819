import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codecFor, multiCodecFor } from '../../../../src/lwm2m/formats/index.js';
import { DecodeError } from '../../../../src/lwm2m/formats/types.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import { parsePath } from '../../../../src/lwm2m/path.js';
import { encodeCbor } from '../../../../src/lwm2m/formats/cbor.js';

const model = loadObjectModel();
const PATHS = ['/3', '/3/0', '/3/0/0', '/3/0/6', '/3/0/6/1', '/5/0/0', '/1/0/1', '/0/1/5', '/3/0/99'].map(parsePath);

/** Either a result or a DecodeError: anything else thrown fails the property. */
function decodesOrRefuses(run: () => unknown): boolean {
  try {
    run();
    return true;
  } catch (err) {
    if (err instanceof DecodeError) return true;
    throw err;
  }
}

const bytes = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
// Random JSON and CBOR documents hit deeper code than random bytes, which rarely parse.
const jsonish = fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v)));
const senmlish = fc
  .array(
    fc.record(
      {
        bn: fc.constantFrom('/3/0/', '/3/', '', '/x/'),
        n: fc.constantFrom('0', '6/1', '/3/0/13', '99', ''),
        v: fc.oneof(fc.integer(), fc.double(), fc.constant(2 ** 60)),
        vs: fc.string(),
        vb: fc.boolean(),
        vd: fc.constantFrom('AQ', '***'),
        vlo: fc.constantFrom('3:0', 'x'),
        t: fc.integer(),
      },
      { requiredKeys: [] },
    ),
    { maxLength: 5 },
  )
  .map((records) => Buffer.from(JSON.stringify(records)));
const cborish = fc
  .oneof(
    fc.array(fc.dictionary(fc.constantFrom('0', '2', '3'), fc.oneof(fc.integer(), fc.string(), fc.boolean())), { maxLength: 4 }),
    fc.jsonValue({ maxDepth: 3 }),
  )
  .map((v) => {
    // Integer-keyed maps like SenML CBOR / LwM2M CBOR, built from the random records.
    const toMaps = (x: unknown): unknown =>
      Array.isArray(x)
        ? x.map(toMaps)
        : typeof x === 'object' && x !== null
          ? new Map(Object.entries(x).map(([k, val]) => [/^\d+$/.test(k) ? Number(k) : k, toMaps(val)]))
          : x;
    return encodeCbor(toMaps(v));
  });

const FORMATS = [0, 42, 11542, 110, 112, 11543, 11544];

describe('decoders never throw anything but DecodeError', () => {
  for (const format of FORMATS) {
    it(`format ${format}`, () => {
      const codec = codecFor(format)!;
      const inputs = format === 110 || format === 11543 ? fc.oneof(bytes, jsonish, senmlish) : format === 112 || format === 11544 ? fc.oneof(bytes, cborish) : bytes;
      fc.assert(
        fc.property(inputs, fc.constantFrom(...PATHS), (payload, path) => decodesOrRefuses(() => codec.decode(payload, path, model))),
        { numRuns: 400 },
      );
    });
  }

  for (const format of [110, 112, 11544]) {
    it(`format ${format}: composite, timestamped and path decoders`, () => {
      const codec = multiCodecFor(format)!;
      const inputs = format === 110 ? fc.oneof(bytes, jsonish, senmlish) : fc.oneof(bytes, cborish);
      fc.assert(
        fc.property(inputs, (payload) =>
          decodesOrRefuses(() => codec.decodeNodes(payload, model)) &&
          decodesOrRefuses(() => codec.decodeNodes(payload, model, [PATHS[1]])) &&
          decodesOrRefuses(() => codec.decodeTimestamped(payload, model)) &&
          decodesOrRefuses(() => codec.decodePaths(payload)),
        ),
        { numRuns: 300 },
      );
    });
  }

  it('TLV: random well-framed TLVs of random types', () => {
    const tlv = fc
      .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 20 }), fc.uint8Array({ maxLength: 9 }))
      .map(([kind, id, value]) => Buffer.concat([Buffer.from([(kind << 6) | (1 << 3), id, value.length]), value]));
    const codec = codecFor(11542)!;
    fc.assert(
      fc.property(fc.array(tlv, { maxLength: 4 }), fc.constantFrom(...PATHS), (parts, path) =>
        decodesOrRefuses(() => codec.decode(Buffer.concat(parts), path, model)),
      ),
      { numRuns: 500 },
    );
  });

  it('a thrown DecodeError is really what a bad payload gives', () => {
    expect(() => codecFor(11542)!.decode(Buffer.from([0xc8]), PATHS[1], model)).toThrow(DecodeError);
  });
});
