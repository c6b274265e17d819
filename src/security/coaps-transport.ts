/** The CoAPS listener's DTLS transport, with its credential callbacks answered from the in-memory registry. */
import { bindDtlsTransport, type DtlsLimits, type DtlsTransport } from '../dtls/index.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { SecurityRegistry } from './security-registry.js';
import type { ServerCredentials } from './server-credentials.js';

export interface CoapsTransportOptions {
  host: string;
  port: number;
  registry: SecurityRegistry;
  credentials: ServerCredentials;
  clock?: Clock;
  logger?: Logger;
  limits?: Partial<DtlsLimits>;
}

export function bindCoapsTransport(options: CoapsTransportOptions): Promise<DtlsTransport> {
  const { registry, credentials } = options;
  return bindDtlsTransport({
    host: options.host,
    port: options.port,
    // Synchronous lookups: the handshake cannot wait for a store.
    psk: { pskFor: (identity) => registry.pskFor(identity) },
    ecdsa: {
      privateKeyPem: credentials.privateKeyPem,
      certificateChainPem: credentials.certificateChainPem,
      rawPublicKey: true,
      trustAnchorsPem: credentials.trustAnchorsPem.length > 0 ? credentials.trustAnchorsPem : undefined,
      rpkAllowed: (spkiDer) => registry.rpkAllowed(spkiDer),
    },
    clock: options.clock,
    logger: options.logger,
    limits: options.limits,
  });
}
