/**
 * A minimal LwM2M "server" for the simulator tests: the real CoapEndpoint over real UDP on
 * 127.0.0.1, answering registration, update, deregistration and Send, and recording every
 * request so tests can wait for the one they expect.
 */
import { CoapEndpoint } from '../../../src/coap/endpoint.js';
import { bindUdpTransport } from '../../../src/coap/udp-transport.js';
import { CoapCode, type IncomingRequest, type OutgoingResponse } from '../../../src/coap/types.js';

export const LOCATION = ['rd', 'r1'];

export interface TestPeer {
  endpoint: CoapEndpoint;
  uri: string;
  requests: IncomingRequest[];
  /** Resolves with the first request (already received or future) that matches, after `from`. */
  waitFor(match: (request: IncomingRequest) => boolean, from?: number): Promise<IncomingRequest>;
  /** Replaces the default answer for requests that match. */
  answerWith(match: (request: IncomingRequest) => boolean, response: OutgoingResponse): void;
  close(): Promise<void>;
}

export const isRegister = (r: IncomingRequest): boolean => r.method === 'POST' && r.path.join('/') === 'rd';
export const isUpdate = (r: IncomingRequest): boolean => r.method === 'POST' && r.path.join('/') === LOCATION.join('/');

export async function startPeer(): Promise<TestPeer> {
  const transport = await bindUdpTransport({ host: '127.0.0.1', port: 0 });
  // Short CoAP timers so a request to a sleeping device fails within a test's time.
  const endpoint = new CoapEndpoint({ transport, ackTimeoutMs: 100, maxRetransmit: 1, random: () => 0 });
  const requests: IncomingRequest[] = [];
  const waiters: Array<{ match: (r: IncomingRequest) => boolean; from: number; resolve: (r: IncomingRequest) => void }> = [];
  const overrides: Array<{ match: (r: IncomingRequest) => boolean; response: OutgoingResponse }> = [];
  endpoint.setRequestHandler((request) => {
    requests.push(request);
    for (const waiter of [...waiters]) {
      if (requests.length - 1 >= waiter.from && waiter.match(request)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(request);
      }
    }
    const override = overrides.find((o) => o.match(request));
    if (override) return override.response;
    if (isRegister(request)) return { code: CoapCode.Created, locationPath: LOCATION };
    if (isUpdate(request)) return { code: CoapCode.Changed };
    if (request.method === 'DELETE') return { code: CoapCode.Deleted };
    if (request.method === 'POST' && request.path.join('/') === 'dp') return { code: CoapCode.Changed };
    return { code: CoapCode.NotFound };
  });
  return {
    endpoint,
    uri: `coap://127.0.0.1:${endpoint.address().port}`,
    requests,
    waitFor(match, from = 0) {
      const found = requests.slice(from).find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ match, from, resolve }));
    },
    answerWith(match, response) {
      overrides.unshift({ match, response });
    },
    close: () => endpoint.close(),
  };
}
