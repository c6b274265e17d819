/**
 * The bootstrap server end to end: the whole server in this process, a real simulated
 * device on UDP that knows only its bootstrap server, and raw CoAP peers for the device
 * behaviours the simulator does not have (silence, errors).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, getJson, type TestServer } from '../helpers/in-process-server.js';
import { openEventStream, type EventStream } from '../helpers/sse.js';
import { SimulatedDevice } from '../../simulators/device/simulated-device.js';
import { bindUdpTransport } from '../../src/coap/udp-transport.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { CoapCode, type IncomingRequest, type OutgoingResponse } from '../../src/coap/types.js';
import { ContentFormat } from '../../src/lwm2m/formats/types.js';

const LOOPBACK = '127.0.0.1';

async function putConfig(server: TestServer, endpoint: string, config: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.baseUrl}/api/bootstrap/${endpoint}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: typeof config === 'string' ? config : JSON.stringify(config),
  });
  return { status: response.status, body: response.status === 204 ? undefined : await response.json() };
}

function nosecConfig(server: TestServer, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { servers: [{ shortId: 101, uri: server.coapUri, securityMode: 'nosec', lifetime: 300, binding: 'U' }], ...extra };
}

/** A device made of a bare CoAP endpoint, answering bootstrap requests with `answer`. */
async function rawDevice(answer: (req: IncomingRequest) => OutgoingResponse | Promise<OutgoingResponse>): Promise<CoapEndpoint> {
  const device = new CoapEndpoint({ transport: await bindUdpTransport({ host: LOOPBACK, port: 0 }) });
  device.setRequestHandler(answer);
  return device;
}

describe('bootstrap server', () => {
  let server: TestServer;
  let events: EventStream;
  const cleanups: Array<() => Promise<unknown> | void> = [];

  beforeEach(async () => {
    server = await startTestServer({ bootstrapPort: 0 });
    events = await openEventStream(`${server.baseUrl}/api/events`);
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    events.close();
    await server.close();
  });

  const bootstrapUri = (): string => `coap://${LOOPBACK}:${server.bootstrapPort}`;
  const bs = () => ({ address: LOOPBACK, port: server.bootstrapPort as number });

  it('listens on its own port', () => {
    expect(server.bootstrapPort).toBeGreaterThan(0);
    expect(server.bootstrapPort).not.toBe(server.coapPort);
  });

  it('a device with no configuration bootstraps, registers with the server it was given and is readable (1.1, SenML CBOR)', async () => {
    expect((await putConfig(server, 'bs-dev', nosecConfig(server, { acl: [{ objectId: 3, instanceId: 0, access: { '101': 15 }, owner: 101 }] }))).status).toBe(201);
    const device = new SimulatedDevice({ endpointName: 'bs-dev', serverUri: '', bootstrapUri: bootstrapUri(), retryDelayMs: 0 });
    cleanups.push(() => device.stop());
    await device.register();

    const started = await events.next('BOOTSTRAP_STARTED', 2000);
    expect(started).toMatchObject({ ep: 'bs-dev', version: '1.1', contentFormat: ContentFormat.SENML_CBOR });
    const finished = await events.next('BOOTSTRAP_FINISHED', 2000);
    expect(finished.result).toBe('finished');
    expect(finished.steps.map((s: any) => `${s.kind} ${s.path} ${s.outcome}`)).toEqual([
      'discover / 2.05',
      'delete /0 2.02',
      'delete /1 2.02',
      'delete /2 2.02',
      // /0/0 is the device's bootstrap account, found by discovery: the server account goes next to it.
      'write /0/1 2.04',
      'write /1/0 2.04',
      'write /2/0 2.04',
      'finish /bs 2.04',
    ]);
    expect((await events.next('REGISTRATION', 2000)).endpoint).toBe('bs-dev');
    expect(device.bootstrapAccount).toEqual({ uri: server.coapUri, shortServerId: 101, lifetimeSec: 300, binding: 'U' });

    const serverInstance = await getJson(`${server.baseUrl}/api/clients/bs-dev/1/0?timeout=5`);
    expect(serverInstance.status).toBe(200);
    const values = Object.fromEntries(serverInstance.body.content.resources.map((r: any) => [r.id, r.value]));
    expect(values).toMatchObject({ 0: '101', 1: '300', 7: 'U' });
    const client = await getJson(`${server.baseUrl}/api/clients/bs-dev`);
    expect(client.body.lifetime).toBe(300);

    const status = await getJson(`${server.baseUrl}/api/bootstrap/bs-dev`);
    expect(status.body.session).toMatchObject({ endpoint: 'bs-dev', phase: 'finished' });
    const audit = await server.store.audit.list({ subject: 'bs-dev' });
    expect(audit.map((e) => e.action)).toEqual(['bootstrap.config.created', 'bootstrap.finished']);
  });

  it('writes TLV to an LwM2M 1.0 device (no pct, no discovery)', async () => {
    await putConfig(server, 'bs-old', nosecConfig(server));
    const device = new SimulatedDevice({ endpointName: 'bs-old', serverUri: '', bootstrapUri: bootstrapUri(), lwm2mVersion: '1.0', retryDelayMs: 0 });
    cleanups.push(() => device.stop());
    const seen: string[] = [];
    device.on('requestReceived', (r) => seen.push(`${r.method} ${r.path}`));
    await device.register();
    expect(await events.next('BOOTSTRAP_STARTED', 2000)).toMatchObject({ ep: 'bs-old', version: '1.0', contentFormat: ContentFormat.TLV });
    expect((await events.next('BOOTSTRAP_FINISHED', 2000)).steps.map((s: any) => s.kind)).toEqual(['delete', 'delete', 'write', 'write', 'finish']);
    expect(seen).toEqual(['DELETE /0', 'DELETE /1', 'PUT /0/1', 'PUT /1/0', 'POST /bs']);
    expect((await getJson(`${server.baseUrl}/api/clients/bs-old`)).body.lwM2mVersion ?? '1.0').toBe('1.0');
  });

  it('answers 4.00 with a reason, and an event, to a request without ep and to an unknown endpoint', async () => {
    const peer = await rawDevice(() => ({ code: CoapCode.NotFound }));
    cleanups.push(() => peer.close());
    const noEp = await peer.request(bs(), { method: 'POST', path: ['bs'], query: ['pct=112'] });
    expect(noEp.code).toBe(CoapCode.BadRequest);
    expect(noEp.payload.toString()).toBe('bootstrap request needs ep=<endpoint name>');
    expect(await events.next('BOOTSTRAP_REJECTED', 2000)).toMatchObject({ ep: null, reason: 'bootstrap request needs ep=<endpoint name>' });

    const unknown = await peer.request(bs(), { method: 'POST', path: ['bs'], query: ['ep=stranger'] });
    expect(unknown.code).toBe(CoapCode.BadRequest);
    expect(unknown.payload.toString()).toBe('no bootstrap configuration for endpoint "stranger"');
    expect(await events.next('BOOTSTRAP_REJECTED', 2000)).toMatchObject({ ep: 'stranger', reason: 'no bootstrap configuration for endpoint "stranger"' });

    const badPct = await peer.request(bs(), { method: 'POST', path: ['bs'], query: ['ep=stranger', 'pct=json'] });
    expect(badPct.code).toBe(CoapCode.BadRequest);
    expect(badPct.payload.toString()).toBe('pct must be a content format number, got "json"');

    // Wrong place: registering at the bootstrap server, bootstrapping at the LwM2M server.
    const register = await peer.request(bs(), { method: 'POST', path: ['rd'], query: ['ep=x'], payload: Buffer.from('</3/0>'), contentFormat: 40 });
    expect(register.code).toBe(CoapCode.NotFound);
    const atServer = await peer.request({ address: LOOPBACK, port: server.coapPort }, { method: 'POST', path: ['bs'], query: ['ep=x'] });
    expect(atServer.code).toBe(CoapCode.NotFound);
    const get = await peer.request(bs(), { method: 'GET', path: ['bs'] });
    expect(get.code).toBe(CoapCode.MethodNotAllowed);
  });

  it('a duplicated finish is refused by the device, which stays registered once', async () => {
    await putConfig(server, 'bs-dup', nosecConfig(server));
    const device = new SimulatedDevice({ endpointName: 'bs-dup', serverUri: '', bootstrapUri: bootstrapUri(), retryDelayMs: 0 });
    cleanups.push(() => device.stop());
    let registrations = 0;
    device.on('registered', () => registrations++);
    await device.register();
    await events.next('BOOTSTRAP_FINISHED', 2000);
    const again = await server.bootstrap!.coap.request(device.address(), { method: 'POST', path: ['bs'] });
    expect(again.code).toBe(CoapCode.BadRequest);
    expect(again.payload.toString()).toBe('no bootstrap in progress');
    expect(registrations).toBe(1);
    expect(device.state).toBe('registered');
  });

  it('records the device refusing the finish (an account it cannot use) as a failure', async () => {
    // Key bytes that are no key: the device cannot build DTLS settings from them.
    const psk = { shortId: 7, uri: 'coaps://127.0.0.1:5684', securityMode: 'rpk', lifetime: 60, binding: 'U', clientPublicKey: '00112233', clientPrivateKey: '00112233', serverPublicKey: '00112233' };
    await putConfig(server, 'bs-psk', { servers: [psk] });
    const device = new SimulatedDevice({ endpointName: 'bs-psk', serverUri: '', bootstrapUri: bootstrapUri(), retryDelayMs: 0 });
    cleanups.push(() => device.stop());
    const failed = device.register().catch((e: Error) => e);
    const event = await events.next('BOOTSTRAP_FAILED', 3000);
    expect(event.reason).toMatch(/^device answered 4\.06 to finish: account 7: the raw public key account is unusable: /);
    expect(event.failedStep).toBe('finish /bs');
    expect(await server.bootstrap!.server.whenSettled('bs-psk')).toBeUndefined();
    const audit = await server.store.audit.list({ subject: 'bs-psk' });
    expect(audit.at(-1)).toMatchObject({ action: 'bootstrap.failed', actor: 'bootstrap', detail: { failedStep: 'finish /bs' } });
    await device.stop();
    expect(await failed).toBeInstanceOf(Error);
  });

  it('retries a step the device answered 5.03, then fails with the reason', async () => {
    await putConfig(server, 'bs-err', nosecConfig(server, { retries: 1, discover: false }));
    const seen: string[] = [];
    const device = await rawDevice((req) => {
      seen.push(`${req.method} /${req.path.join('/')}`);
      if (req.method === 'DELETE') return { code: CoapCode.Deleted };
      return { code: CoapCode.ServiceUnavailable, payload: Buffer.from('busy') };
    });
    cleanups.push(() => device.close());
    expect((await device.request(bs(), { method: 'POST', path: ['bs'], query: ['ep=bs-err', 'pct=110'] })).code).toBe(CoapCode.Changed);
    const event = await events.next('BOOTSTRAP_FAILED', 3000);
    expect(event.reason).toBe('device answered 5.03 to write: busy (after 2 attempts)');
    expect(seen).toEqual(['DELETE /0', 'DELETE /1', 'PUT /0/1', 'PUT /0/1']);
  });

  it('times out a silent device after the configured retries', async () => {
    await putConfig(server, 'bs-mute', nosecConfig(server, { retries: 1, requestTimeoutSec: 0.3, discover: false }));
    let heard = 0;
    const device = await rawDevice(() => {
      heard++;
      return new Promise<OutgoingResponse>(() => {}); // never answers
    });
    cleanups.push(() => device.close());
    const startedAt = Date.now();
    expect((await device.request(bs(), { method: 'POST', path: ['bs'], query: ['ep=bs-mute'] })).code).toBe(CoapCode.Changed);
    const event = await events.next('BOOTSTRAP_FAILED', 5000);
    expect(event.reason).toBe('device did not answer delete (after 2 attempts)');
    expect(event.steps.map((s: any) => s.outcome)).toEqual(['timeout', 'timeout']);
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(heard).toBe(2);
  });

  it('refuses malformed configurations with 400 and the reason', async () => {
    const cases: Array<[unknown, string]> = [
      ['{"servers": [', 'the body is not valid JSON'],
      [{}, 'servers must be a non-empty array of server accounts'],
      [{ servers: [] }, 'servers must be a non-empty array of server accounts'],
      [{ servers: [{ shortId: 0, uri: 'coap://h', securityMode: 'nosec', lifetime: 300, binding: 'U' }] }, 'servers[0].shortId must be an integer from 1 to 65534, got 0'],
      [{ servers: [{ shortId: 1, uri: 'http://h', securityMode: 'nosec', lifetime: 300, binding: 'U' }] }, 'servers[0].uri "http://h" is not a CoAP URI like "coap://host:5683"'],
      [{ servers: [{ shortId: 1, uri: 'coap://h', securityMode: 'psk', lifetime: 300, binding: 'U' }] }, 'servers[0].uri: securityMode "psk" needs a coaps:// URI, got "coap://h"'],
      [{ servers: [{ shortId: 1, uri: 'coaps://h', securityMode: 'psk', lifetime: 300, binding: 'U', pskIdentity: 'i' }] }, 'servers[0].pskKey is required for securityMode "psk"'],
      [{ servers: [{ shortId: 1, uri: 'coaps://h', securityMode: 'psk', lifetime: 300, binding: 'U', pskIdentity: 'i', pskKey: 'xyz' }] }, 'servers[0].pskKey must be a non-empty hex string with an even number of digits'],
      [{ servers: [{ shortId: 1, uri: 'coap://h', securityMode: 'magic', lifetime: 300, binding: 'U' }] }, 'servers[0].securityMode must be one of nosec, psk, rpk, x509, got "magic"'],
      [{ servers: [{ shortId: 1, uri: 'coap://h', securityMode: 'nosec', lifetime: 300, binding: 'X' }] }, 'servers[0].binding must be transport letters of U, T, S, N (and Q), got "X"'],
      [{ servers: [{ shortId: 1, uri: 'coap://h', securityMode: 'nosec', lifetime: 300, binding: 'U', lifetme: 3 }] }, 'servers[0] has an unknown field "lifetme"'],
      [{ servers: [{ shortId: 1, uri: 'coap://h', securityMode: 'nosec', lifetime: 300, binding: 'U' }], deletePaths: ['/0/x'] }, 'deletePaths[0]: path "/0/x": "x" is not a number'],
      [{ servers: [{ shortId: 1, uri: 'coap://h', securityMode: 'nosec', lifetime: 300, binding: 'U' }, { shortId: 1, uri: 'coap://g', securityMode: 'nosec', lifetime: 300, binding: 'U' }] }, 'shortId 1 is used twice'],
    ];
    for (const [body, reason] of cases) {
      const { status, body: answer } = await putConfig(server, 'bad', body);
      expect(status, reason).toBe(400);
      expect(answer.detail, reason).toContain(reason);
    }
    expect((await getJson(`${server.baseUrl}/api/bootstrap/bad`)).status).toBe(404);
  });

  it('lists, shows without secrets and deletes configurations', async () => {
    const psk = { shortId: 5, uri: 'coaps://10.0.0.1:5684', securityMode: 'psk', lifetime: 60, binding: 'UQ', pskIdentity: 'dev-a', pskKey: 'A0B1C2' };
    expect((await putConfig(server, 'dev-a', { servers: [psk] })).status).toBe(201);
    const replaced = await putConfig(server, 'dev-a', { servers: [psk] });
    expect(replaced.status).toBe(200);
    expect(replaced.body.config.servers[0]).toEqual({ shortId: 5, uri: 'coaps://10.0.0.1:5684', securityMode: 'psk', lifetime: 60, binding: 'UQ', pskIdentity: 'dev-a', hasPskKey: true });
    await putConfig(server, 'dev-b', nosecConfig(server));
    const list = await getJson(`${server.baseUrl}/api/bootstrap`);
    expect(list.body.map((e: any) => e.endpoint)).toEqual(['dev-a', 'dev-b']);
    expect(JSON.stringify(list.body)).not.toContain('a0b1c2');
    const one = await getJson(`${server.baseUrl}/api/bootstrap/dev-a`);
    expect(one.body).toMatchObject({ endpoint: 'dev-a', session: null });
    expect((await fetch(`${server.baseUrl}/api/bootstrap/dev-a`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${server.baseUrl}/api/bootstrap/dev-a`, { method: 'DELETE' })).status).toBe(404);
    // The key is still usable by sessions: it is stored, only never shown.
    expect(await server.store.bootstrapConfigs.get('dev-b')).toBeDefined();
  });
});
