import { afterEach, describe, expect, it } from 'vitest';
import { CoapEndpoint } from '../../../../src/coap/endpoint.js';
import { bindUdpTransport } from '../../../../src/coap/udp-transport.js';
import { CoapCode, CoapOptionNumber } from '../../../../src/coap/types.js';
import { encodeNode } from '../../../../src/lwm2m/formats/index.js';
import { ContentFormat } from '../../../../src/lwm2m/formats/types.js';
import { loadObjectModel } from '../../../../src/lwm2m/model/registry.js';
import { parsePath } from '../../../../src/lwm2m/path.js';
import { Lwm2mServer } from '../../../../src/lwm2m/server/lwm2m-server.js';

const model = loadObjectModel();

/** The services unchanged over real CoAP endpoints on 127.0.0.1: the CoapEndpoint is a CoapRequester. */
describe('Lwm2mServer over UDP', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it('registers a device and reads a resource from it', async () => {
    const serverEndpoint = new CoapEndpoint({ transport: await bindUdpTransport({ host: '127.0.0.1', port: 0 }) });
    const deviceEndpoint = new CoapEndpoint({ transport: await bindUdpTransport({ host: '127.0.0.1', port: 0 }) });
    closers.push(() => serverEndpoint.close(), () => deviceEndpoint.close());
    const lwm2m = new Lwm2mServer({ coap: serverEndpoint, model });
    closers.push(() => lwm2m.close());
    serverEndpoint.setRequestHandler((req) => lwm2m.handleRequest(req));

    deviceEndpoint.setRequestHandler((req) => {
      const path = parsePath(req.path.join('/'));
      const payload = encodeNode(req.accept ?? ContentFormat.TLV, { kind: 'singleResource', id: 9, type: 'integer', value: 64 }, path, model);
      return { code: CoapCode.Content, payload, contentFormat: req.accept ?? ContentFormat.TLV };
    });

    const registered = await deviceEndpoint.request(serverEndpoint.address(), {
      method: 'POST',
      path: ['rd'],
      query: ['ep=udp-dev', 'lt=60'],
      payload: Buffer.from('</1/0>,</3/0>'),
      contentFormat: ContentFormat.LINK,
    });
    expect(registered.code).toBe(CoapCode.Created);
    const location = registered.message.options.filter((o) => o.number === CoapOptionNumber.LocationPath).map((o) => o.value.toString());
    const reg = lwm2m.registrations.get('udp-dev')!;
    expect(location).toEqual(['rd', reg.id]);
    expect(reg.address).toEqual(deviceEndpoint.address());

    expect(await lwm2m.devices.read('udp-dev', '/3/0/9')).toEqual({ kind: 'singleResource', id: 9, type: 'integer', value: 64 });
  });
});
