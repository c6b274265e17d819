/** DTLS as a DatagramTransport: CoAP over this is CoAPS (RFC 7252 §9). */
import type { DatagramTransport, RemoteAddress } from '../coap/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { DtlsEcdsaConfig, DtlsEvent, DtlsLimits, DtlsPeerIdentity, DtlsPskConfig, DtlsStats } from './config.js';
import { DtlsServer } from './server.js';
import { bindUdpSocket } from './udp-socket.js';

export interface DtlsTransportOptions {
  host: string;
  port: number;
  psk?: DtlsPskConfig;
  ecdsa?: DtlsEcdsaConfig;
  clock?: Clock;
  logger?: Logger;
  limits?: Partial<DtlsLimits>;
}

export interface DtlsTransport extends DatagramTransport {
  /** Who is at the other end of an established session (undefined: no session). */
  peerIdentity(remote: RemoteAddress): DtlsPeerIdentity | undefined;
  /** A session moved to a new address by Connection ID; the layer above should re-key its state. */
  onAddressChange(handler: (oldRemote: RemoteAddress, newRemote: RemoteAddress) => void): void;
  onEvent(handler: (event: DtlsEvent) => void): void;
  stats(): DtlsStats;
}

export async function bindDtlsTransport(options: DtlsTransportOptions): Promise<DtlsTransport> {
  const socket = await bindUdpSocket(options.host, options.port);
  let deliver: (data: Buffer, remote: RemoteAddress) => void = () => {};
  let server: DtlsServer;
  try {
    server = new DtlsServer(
      { psk: options.psk, ecdsa: options.ecdsa, clock: options.clock, limits: options.limits },
      { sendDatagram: (d, r) => socket.send(d, r), deliver: (d, r) => deliver(d, r) },
    );
  } catch (err) {
    await socket.close();
    throw err;
  }
  const log = options.logger;
  if (log) {
    server.onEvent((e) => {
      if (e.kind === 'handshakeFailed' || e.kind === 'unknownPskIdentity') log.warn({ dtls: e }, `dtls ${e.kind}`);
      else log.debug({ dtls: { ...e, ...('identity' in e && typeof e.identity === 'object' ? { identity: e.identity.kind } : {}) } }, `dtls ${e.kind}`);
    });
  }
  socket.onMessage((d, r) => server.handleDatagram(d, r));
  return {
    send: (datagram, remote) => {
      server.send(datagram, remote);
    },
    onDatagram: (handler) => {
      deliver = handler;
    },
    address: () => socket.local,
    peerIdentity: (remote) => server.peerIdentity(remote),
    onAddressChange: (handler) => server.onAddressChange(handler),
    onEvent: (handler) => server.onEvent(handler),
    stats: () => server.stats(),
    close: async () => {
      server.close();
      await socket.close();
    },
  };
}
