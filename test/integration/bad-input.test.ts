/**
 * Hostile and broken datagrams: the server answers with the fitting code (or RST, or
 * silence for what cannot be answered), and keeps serving a well-formed registration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { serializeMessage } from '../../src/coap/codec.js';
import { CoapCode, CoapOptionNumber, formatCode, type CoapMessage, type CoapOption } from '../../src/coap/types.js';
import { startTestServer, getJson, type TestServer } from '../helpers/in-process-server.js';
import { RawPeer } from '../helpers/raw-coap.js';

let nextMessageId = 1;

/** A CoAP uint option value: big-endian, no leading zero bytes. */
function uintBytes(value: number): Buffer {
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from(bytes);
}

function request(code: number, path: string[], query: string[], payload: Buffer = Buffer.alloc(0), extra: CoapOption[] = []): Buffer {
  const options: CoapOption[] = [
    ...path.map((segment) => ({ number: CoapOptionNumber.UriPath, value: Buffer.from(segment) })),
    ...extra,
    ...query.map((q) => ({ number: CoapOptionNumber.UriQuery, value: Buffer.from(q) })),
  ].sort((a, b) => a.number - b.number);
  const message: CoapMessage = {
    type: 'CON',
    code,
    messageId: nextMessageId++ & 0xffff,
    token: Buffer.from([0xb0, nextMessageId & 0xff]),
    options,
    payload,
  };
  return serializeMessage(message);
}

const register = (ep: string, payload = '</3/0>') =>
  request(CoapCode.POST, ['rd'], [`ep=${ep}`, 'lt=300', 'lwm2m=1.1'], Buffer.from(payload), [
    { number: CoapOptionNumber.ContentFormat, value: Buffer.of(40) },
  ]);

describe('bad input over a real socket', () => {
  let server: TestServer;
  let peer: RawPeer;
  beforeAll(async () => {
    server = await startTestServer();
    peer = await RawPeer.open();
  });
  afterAll(async () => {
    peer?.close();
    await server?.close();
  });

  async function stillServes(ep: string): Promise<void> {
    const answer = await peer.exchange(register(ep), server.coapPort);
    expect(answer && formatCode(answer.code)).toBe('2.01');
    expect((await getJson(`${server.baseUrl}/api/clients/${ep}`)).status).toBe(200);
  }

  it('answers RST to a CON whose options run past the datagram', async () => {
    // CON GET, mid 0x1234, no token, then an option header claiming 12 bytes that are absent.
    const answer = await peer.exchange(Buffer.from([0x40, 0x01, 0x12, 0x34, 0xbc, 0x61]), server.coapPort);
    expect(answer?.type).toBe('RST');
    expect(answer?.messageId).toBe(0x1234);
    await stillServes('after-truncated');
  });

  it('stays silent on datagrams too short to have a header, and keeps serving', async () => {
    for (const junk of [Buffer.alloc(0), Buffer.from([0x40]), Buffer.from([0x40, 0x01, 0x00])]) {
      expect(await peer.exchange(junk, server.coapPort, 200)).toBeUndefined();
    }
    await stillServes('after-short');
  });

  it('survives 2,000 random datagrams and truncated copies of a real one', async () => {
    const real = register('fuzz-template');
    const samples = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 80 }), { numRuns: 1500, seed: 42 });
    for (const bytes of samples) peer.send(Buffer.from(bytes), server.coapPort);
    for (let cut = 0; cut < real.length; cut++) peer.send(real.subarray(0, cut), server.coapPort);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await stillServes('after-fuzz');
  });

  it('answers 4.02 Bad Option to an unknown critical option', async () => {
    const answer = await peer.exchange(
      request(CoapCode.POST, ['rd'], ['ep=bad-option'], Buffer.from('</3/0>'), [{ number: 2049, value: Buffer.from('x') }]),
      server.coapPort,
    );
    expect(answer && formatCode(answer.code)).toBe('4.02');
    expect((await getJson(`${server.baseUrl}/api/clients/bad-option`)).status).toBe(404);
  });

  it('answers 4.00 with a reason to bogus registration queries', async () => {
    const cases: [string[], string][] = [
      [['lt=300'], 'ep'],
      [['ep=x', 'lt=-5'], 'lt'],
      [['ep=x', 'lt=abc'], 'lt'],
      [['ep=x', 'b=Z'], 'b'],
    ];
    for (const [query, mentioned] of cases) {
      const answer = await peer.exchange(request(CoapCode.POST, ['rd'], query, Buffer.from('</3/0>')), server.coapPort);
      expect(answer && formatCode(answer.code), query.join('&')).toBe('4.00');
      expect(answer!.payload.toString()).toContain(mentioned);
    }
    await stillServes('after-bogus-query');
  });

  it('answers 4.00 to a malformed link-format payload', async () => {
    const answer = await peer.exchange(register('bad-links', '</3/0,<<<'), server.coapPort);
    expect(answer && formatCode(answer.code)).toBe('4.00');
    expect((await getJson(`${server.baseUrl}/api/clients/bad-links`)).status).toBe(404);
  });

  it('answers 4.13 with Size1 to a body larger than the server accepts', async () => {
    // Block1 num=0, more=1, szx=6 with Size1 announcing 64 MiB.
    const answer = await peer.exchange(
      request(CoapCode.POST, ['rd'], ['ep=huge'], Buffer.alloc(1024, 0x3c), [
        { number: CoapOptionNumber.Block1, value: Buffer.of(0x0e) },
        { number: CoapOptionNumber.Size1, value: Buffer.from([0x04, 0x00, 0x00, 0x00]) },
      ]),
      server.coapPort,
    );
    expect(answer && formatCode(answer.code)).toBe('4.13');
    expect(answer!.options.some((o) => o.number === CoapOptionNumber.Size1)).toBe(true);
    await stillServes('after-huge');
  });

  it('answers 4.00 to malformed Send payloads (SenML JSON, SenML CBOR, LwM2M CBOR)', async () => {
    const reg = await peer.exchange(register('sender'), server.coapPort);
    expect(reg && formatCode(reg.code)).toBe('2.01');
    const bodies: [number, Buffer][] = [
      [110, Buffer.from('{"not":"an array"')],
      [112, Buffer.from([0x9f, 0xa1, 0x00])],
      [11544, Buffer.from([0xbf, 0xff, 0xff, 0x01])],
    ];
    for (const [format, body] of bodies) {
      const answer = await peer.exchange(
        request(CoapCode.POST, ['dp'], [], body, [{ number: CoapOptionNumber.ContentFormat, value: uintBytes(format) }]),
        server.coapPort,
      );
      expect(answer && formatCode(answer.code), `format ${format}`).toBe('4.00');
      expect(answer!.payload.length).toBeGreaterThan(0);
    }
    await stillServes('after-bad-send');
  });

  it('answers 4.04 to an unknown path and to an update of an unknown registration', async () => {
    const unknownPath = await peer.exchange(request(CoapCode.GET, ['nothing', 'here'], []), server.coapPort);
    expect(unknownPath && formatCode(unknownPath.code)).toBe('4.04');
    const unknownUpdate = await peer.exchange(request(CoapCode.POST, ['rd', 'no-such-id'], ['lt=60']), server.coapPort);
    expect(unknownUpdate && formatCode(unknownUpdate.code)).toBe('4.04');
  });
});
