/**
 * A server that restarts answers before its deliveries have hosted their images again: a
 * device pulling across the restart is asked to come back (5.03 + Max-Age), not told its
 * URI is gone (4.04), and the simulated device waits and goes on.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FirmwareHost, RESTORING_RETRY_SEC } from '../../../src/firmware/delivery/firmware-host.js';
import { CoapCode, CoapOptionNumber, type IncomingRequest } from '../../../src/coap/types.js';
import { parseMessage, serializeMessage } from '../../../src/coap/codec.js';
import { startFirmwareHarness, type FirmwareHarness } from './harness.js';
import { untilTrue } from '../../helpers/until.js';

function get(path: string[]): IncomingRequest {
  const message = parseMessage(serializeMessage({ type: 'CON', code: CoapCode.GET, messageId: 1, token: Buffer.alloc(0), options: path.map((segment) => ({ number: CoapOptionNumber.UriPath, value: Buffer.from(segment) })), payload: Buffer.alloc(0) }));
  return { remote: { address: '127.0.0.1', port: 9 }, method: 'GET', path, query: [], payload: Buffer.alloc(0), message, contentFormat: undefined, accept: undefined, observe: undefined, security: undefined };
}

describe('FirmwareHost while the server restores its deliveries', () => {
  it('answers an unknown token 5.03 with Max-Age while restoring, 4.04 after, and serves known tokens throughout', () => {
    const host = new FirmwareHost();
    host.host('known', Buffer.from('image'), 'ab'.repeat(32));
    host.beginRestoring();
    const waiting = host.handle(get(['fw', 'unknown']))!;
    expect(waiting.code).toBe(CoapCode.ServiceUnavailable);
    expect(waiting.options).toEqual([{ number: CoapOptionNumber.MaxAge, value: Buffer.from([RESTORING_RETRY_SEC]) }]);
    expect(waiting.payload?.toString()).toBe('the server is starting: retry shortly');
    expect(host.handle(get(['fw', 'known']))?.payload?.toString()).toBe('image');
    host.endRestoring();
    expect(host.handle(get(['fw', 'unknown']))?.code).toBe(CoapCode.NotFound);
  });
});

describe('a simulated device pulling from a restoring server', () => {
  let harness: FirmwareHarness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('waits out the 5.03 and downloads the image once it is hosted', async () => {
    harness = await startFirmwareHarness();
    const device = await harness.device({ endpointName: 'dev-busy', firmwareVersion: '1.0.0' });
    const image = harness.image('2.0.0', 3000);
    harness.firmware.host.beginRestoring();
    const uri = `${harness.coapUri}/fw/late-token`;
    await harness.lwm2m.devices.write('dev-busy', '/5/0/1', { kind: 'singleResource', id: 1, type: 'string', value: uri }, { mode: 'replace' });
    // The device asked and was told to come back: it is still downloading, nothing stored yet.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(device.firmware.state).toBe(1);
    harness.firmware.host.host('late-token', image, createHash('sha256').update(image).digest('hex'));
    harness.firmware.host.endRestoring();
    await untilTrue('the device holds the package (State 2)', () => device.firmware.state === 2, 5000);
    expect(device.firmware.result).toBe(0);
  });
});
