/**
 * The bootstrap server's own CoAP listener (`--bootstrap-port`, default 5685), in the
 * same process as the LwM2M server. The socket is opened by the caller's `bind` (the
 * composition root passes the UDP transport), so this layer still knows no sockets.
 */
import { CoapEndpoint } from '../../coap/endpoint.js';
import type { DatagramTransport } from '../../coap/types.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/logger.js';
import { BootstrapServer, type BootstrapServerOptions } from './bootstrap-server.js';

export const DEFAULT_BOOTSTRAP_PORT = 5685;

export interface BootstrapListenerOptions extends Omit<BootstrapServerOptions, 'coap' | 'clock' | 'logger'> {
  /** Undefined = the default port, which may be taken (another server on this host): then we warn and run without. */
  port: number | undefined;
  bind: (port: number) => Promise<DatagramTransport>;
  clock: Clock;
  logger: Logger;
}

export interface BootstrapListener {
  port: number;
  coap: CoapEndpoint;
  server: BootstrapServer;
  close(): Promise<void>;
}

export async function startBootstrapListener(options: BootstrapListenerOptions): Promise<BootstrapListener | undefined> {
  const port = options.port ?? DEFAULT_BOOTSTRAP_PORT;
  let transport: DatagramTransport;
  try {
    transport = await options.bind(port);
  } catch (err) {
    // An explicit port that cannot be had is a configuration error; the default is a convenience.
    if (options.port !== undefined || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    options.logger.warn({ port }, `bootstrap port ${port} is in use: running without a bootstrap server (choose one with --bootstrap-port, 0 = any free port)`);
    return undefined;
  }
  const coap = new CoapEndpoint({ transport, clock: options.clock, logger: options.logger.child({ layer: 'coap-bootstrap' }) });
  const server = new BootstrapServer({ ...options, coap, clock: options.clock, logger: options.logger });
  coap.setRequestHandler((request) => server.handleRequest(request));
  return {
    port: coap.address().port,
    coap,
    server,
    async close() {
      await server.close();
      await coap.close();
    },
  };
}
