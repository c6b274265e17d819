/**
 * serve --time-scale N runs the firmware delivery service on the scheduler's scaled clock:
 * a device that never answers fails its phase after phase-timeout / N of real time, as it
 * would after the whole phase timeout in a real-time run.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeMessage } from '../../src/coap/codec.js';
import { CoapCode, CoapOptionNumber, formatCode } from '../../src/coap/types.js';
import { DEFAULT_POLICY } from '../../src/firmware/delivery/policy.js';
import { buildSimImage } from '../../simulators/device/firmware/image-format.js';
import { api, startTestServer, uploadFirmware, type TestServer } from '../helpers/in-process-server.js';
import { RawPeer } from '../helpers/raw-coap.js';

const SCALE = 60;

function register(ep: string): Buffer {
  return serializeMessage({
    type: 'CON',
    code: CoapCode.POST,
    messageId: 0x4242,
    token: Buffer.from([0x51, 0x7e]),
    options: [
      { number: CoapOptionNumber.UriPath, value: Buffer.from('rd') },
      { number: CoapOptionNumber.ContentFormat, value: Buffer.of(40) },
      ...[`ep=${ep}`, 'lt=300', 'lwm2m=1.1'].map((q) => ({ number: CoapOptionNumber.UriQuery, value: Buffer.from(q) })),
    ],
    payload: Buffer.from('</1/0>,</3/0>,</5/0>'),
  });
}

describe(`serve --time-scale ${SCALE}`, () => {
  let server: TestServer;
  let peer: RawPeer;

  beforeAll(async () => {
    server = await startTestServer({ timeScale: SCALE, store: 'memory' });
    peer = await RawPeer.open();
  });

  afterAll(async () => {
    peer?.close();
    await server?.close();
  });

  it('a device that never answers fails the inspecting phase after its timeout / 60 of real time', async () => {
    // Registers, then stays silent: every request of the delivery goes unanswered.
    const answer = await peer.exchange(register('mute-1'), server.coapPort);
    expect(answer && formatCode(answer.code)).toBe('2.01');
    const image = buildSimImage({ name: 'app', version: '2.0.0', payload: randomBytes(1024) });
    const firmwareId = await uploadFirmware(server.baseUrl, image, { name: 'app', version: '2.0.0' });

    const began = Date.now();
    const started = await api(server, 'POST', '/api/clients/mute-1/firmware', { firmwareId, method: 'push' });
    expect(started.status).toBe(202);
    let record: Record<string, any>;
    for (;;) {
      record = (await api(server, 'GET', '/api/clients/mute-1/firmware')).body;
      if (record.state === 'failed' || Date.now() - began > 15_000) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const realMs = Date.now() - began;

    expect(record.state).toBe('failed');
    expect(record.reason).toBe(`the device did not answer the Object 5 reads within ${DEFAULT_POLICY.inspectTimeoutMs} ms`);
    expect(record.history.at(-1)).toMatchObject({ from: 'inspecting', to: 'failed', event: 'timeout' });
    // The whole phase timeout passed on the delivery's (scaled) clock…
    const scaledMs = new Date(record.history.at(-1).at).getTime() - new Date(record.createdAt).getTime();
    expect(scaledMs).toBeGreaterThanOrEqual(DEFAULT_POLICY.inspectTimeoutMs);
    expect(scaledMs).toBeLessThan(DEFAULT_POLICY.inspectTimeoutMs * 1.5);
    // …which is a sixtieth of it in real time (2 s here, not 120 s; a CoAP request to the silent device would not give up before 93 s).
    expect(realMs).toBeGreaterThanOrEqual(DEFAULT_POLICY.inspectTimeoutMs / SCALE - 100);
    expect(realMs).toBeLessThan(DEFAULT_POLICY.inspectTimeoutMs / SCALE + 3000);
  });
});
