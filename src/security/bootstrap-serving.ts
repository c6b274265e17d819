/**
 * Bootstrap over DTLS, assembled so the composition root only wires it: the bootstrap
 * credential index, the DTLS transport of the bootstrap CoAPS listener (PSK and raw public
 * keys answered from the index, the server's own key and certificate reused), the
 * listener, and the identity checks in front of both bootstrap listeners.
 */
import type { DtlsLimits, DtlsTransport } from '../dtls/index.js';
import { bindDtlsTransport } from '../dtls/index.js';
import type { BootstrapListener, BootstrapListenerOptions } from '../lwm2m/bootstrap/listener.js';
import { startSecureBootstrapListener } from '../lwm2m/bootstrap/secure-listener.js';
import type { Lwm2mEvents } from '../lwm2m/server/events.js';
import type { Logger } from '../util/logger.js';
import type { BootstrapCredentialIndex } from './bootstrap-credentials.js';
import { guardBootstrapRequests, type BootstrapGuardOptions } from './bootstrap-guard.js';
import type { SecurityRegistry } from './security-registry.js';
import type { ServerCredentials } from './server-credentials.js';

export interface SecureBootstrapOptions extends Omit<BootstrapListenerOptions, 'bind'> {
  host: string;
  index: BootstrapCredentialIndex;
  registry: SecurityRegistry;
  credentials: ServerCredentials;
  allowNoSec: boolean;
  events: Lwm2mEvents;
  /** The plain bootstrap listener (if it runs): it gets the same checks. */
  plain: BootstrapListener | undefined;
  limits?: Partial<DtlsLimits>;
  logger: Logger;
}

export interface SecureBootstrap {
  listener: BootstrapListener | undefined;
  transport: DtlsTransport | undefined;
  port: number | undefined;
  close(): Promise<void>;
}

export async function openSecureBootstrap(options: SecureBootstrapOptions): Promise<SecureBootstrap> {
  const { index, credentials, logger } = options;
  let transport: DtlsTransport | undefined;
  const listener = await startSecureBootstrapListener({
    ...options,
    bind: async (port) => {
      transport = await bindDtlsTransport({
        host: options.host,
        port,
        // Synchronous lookups: the handshake cannot wait for the store.
        psk: { pskFor: (identity) => index.pskFor(identity) },
        ecdsa: {
          privateKeyPem: credentials.privateKeyPem,
          certificateChainPem: credentials.certificateChainPem,
          rawPublicKey: true,
          trustAnchorsPem: credentials.trustAnchorsPem.length > 0 ? credentials.trustAnchorsPem : undefined,
          rpkAllowed: (spkiDer) => index.rpkAllowed(spkiDer),
        },
        clock: options.clock,
        logger: logger.child({ layer: 'dtls-bootstrap' }),
        limits: options.limits,
      });
      return transport;
    },
  });
  const guard: BootstrapGuardOptions = {
    credentials: index,
    serverSecurity: options.registry,
    allowNoSec: options.allowNoSec,
    logger,
    onViolation: (event) => {
      logger.warn({ violation: event }, `security violation: ${event.reason}`);
      options.events.emit('securityViolation', event);
    },
  };
  for (const [each, secure] of [[options.plain, false], [listener, true]] as const) {
    if (!each) continue;
    const handle = each.server.handleRequest.bind(each.server);
    each.coap.setRequestHandler(guardBootstrapRequests(handle, secure, guard));
  }
  return {
    listener,
    transport: listener ? transport : undefined,
    port: listener?.port,
    close: async () => {
      await listener?.close();
    },
  };
}
