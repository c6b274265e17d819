/**
 * The bootstrap server's CoAPS listener (`--bootstrap-coaps-port`, default 5686): the same
 * bootstrap role as listener.ts over a DTLS transport the caller binds (this layer knows
 * no sockets and no DTLS). It is a BootstrapServer of its own, so its requests to a device
 * can only leave through DTLS: a device bootstrapped over CoAPS never gets its keys in clear.
 */
import type { DatagramTransport } from '../../coap/types.js';
import { startBootstrapListener, type BootstrapListener, type BootstrapListenerOptions } from './listener.js';

export const DEFAULT_BOOTSTRAP_COAPS_PORT = 5686;

export async function startSecureBootstrapListener(options: BootstrapListenerOptions): Promise<BootstrapListener | undefined> {
  const port = options.port ?? DEFAULT_BOOTSTRAP_COAPS_PORT;
  let transport: DatagramTransport;
  try {
    transport = await options.bind(port);
  } catch (err) {
    // As for the plain listener: an explicit port that cannot be had is an error, the default a convenience.
    if (options.port !== undefined || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    options.logger.warn({ port }, `bootstrap CoAPS port ${port} is in use: running without bootstrap over DTLS (choose one with --bootstrap-coaps-port, 0 = any free port)`);
    return undefined;
  }
  const listener = await startBootstrapListener({ ...options, port: transport.address().port, bind: async () => transport });
  if (!listener) throw new Error('bootstrap CoAPS listener did not start on a bound transport');
  return listener;
}
