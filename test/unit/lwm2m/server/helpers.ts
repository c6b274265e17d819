import type { CoapMethod, IncomingRequest, RemoteAddress } from '../../../../src/coap/types.js';

export const DEVICE_A: RemoteAddress = { address: '10.0.0.1', port: 5683 };
export const DEVICE_B: RemoteAddress = { address: '10.0.0.2', port: 40000 };

export function coapRequest(
  method: CoapMethod,
  path: string[],
  options: { query?: string[]; payload?: string | Buffer; remote?: RemoteAddress; contentFormat?: number } = {},
): IncomingRequest {
  const payload = typeof options.payload === 'string' ? Buffer.from(options.payload) : (options.payload ?? Buffer.alloc(0));
  const req: IncomingRequest = {
    remote: options.remote ?? DEVICE_A,
    method,
    path,
    query: options.query ?? [],
    payload,
    message: { type: 'CON', code: 2, messageId: 1, token: Buffer.from([1]), options: [], payload },
  };
  if (options.contentFormat !== undefined) req.contentFormat = options.contentFormat;
  return req;
}

export function registerRequest(query: string[], payload = '</1/0>,</3/0>', remote: RemoteAddress = DEVICE_A): IncomingRequest {
  return coapRequest('POST', ['rd'], { query, payload, remote, contentFormat: 40 });
}

/** Lets pending promise callbacks (and their follow-ups) run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
