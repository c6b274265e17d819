/**
 * Micro-benchmark behind the codec decision (figures quoted at the top of src/coap/codec.ts).
 * Run: npx tsx test/unit/coap/codec-bench.ts   (not a test; ~2 s of CPU)
 * Both sides decode the Uri-Path and Uri-Query strings, as the server does for every request.
 */
import { generate, parse } from 'coap-packet';
import { parseMessage, serializeMessage } from '../../../src/coap/codec.js';
import { uriPath, uriQuery } from '../../../src/coap/options.js';
import { CoapCode, CoapOptionNumber, type CoapMessage } from '../../../src/coap/types.js';

const request: CoapMessage = {
  type: 'CON',
  code: CoapCode.POST,
  messageId: 0x1234,
  token: Buffer.from('0102030405060708', 'hex'),
  options: [
    { number: CoapOptionNumber.UriPath, value: Buffer.from('rd') },
    { number: CoapOptionNumber.ContentFormat, value: Buffer.from([40]) },
    ...['ep=bench-device-000001', 'lt=300', 'lwm2m=1.1', 'b=U'].map((q) => ({ number: CoapOptionNumber.UriQuery, value: Buffer.from(q) })),
  ],
  payload: Buffer.from('</1/0>,</3/0>,</4/0>,</5/0>'),
};
const wire = serializeMessage(request);
const N = 500_000;
let sink = 0;

function ours(): void {
  for (let i = 0; i < N; i++) {
    const m = parseMessage(wire);
    // What the server reads of every request: the path and query as strings.
    sink += uriPath(m).length + uriQuery(m).length;
    serializeMessage({ type: 'ACK', code: CoapCode.Created, messageId: m.messageId, token: m.token, options: [{ number: CoapOptionNumber.LocationPath, value: Buffer.from('rd') }, { number: CoapOptionNumber.LocationPath, value: Buffer.from('a1b2') }], payload: Buffer.alloc(0) });
  }
}

function coapPacket(): void {
  for (let i = 0; i < N; i++) {
    const m = parse(wire);
    for (const option of m.options) if (option.name === 'Uri-Path' || option.name === 'Uri-Query') sink += option.value.toString('utf8').length;
    generate({ ack: true, code: '2.01', messageId: m.messageId, token: m.token, options: [{ name: 'Location-Path', value: Buffer.from('rd') }, { name: 'Location-Path', value: Buffer.from('a1b2') }] });
  }
}

for (const [name, run] of [['ours', ours], ['coap-packet', coapPacket], ['ours', ours], ['coap-packet', coapPacket]] as const) {
  const start = process.hrtime.bigint();
  run();
  const ns = Number(process.hrtime.bigint() - start);
  console.log(`${name.padEnd(12)} ${((N / ns) * 1e3).toFixed(2)} M parse+serialize/s  ${(ns / N / 1000).toFixed(2)} µs each`);
}
if (sink === 0) console.log('(nothing read)');
