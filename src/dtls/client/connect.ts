/**
 * `connectDtls`: a DTLS 1.2 client session to ONE server over its own UDP socket, offered as
 * a DatagramTransport so a CoapEndpoint runs over it unchanged (CoAPS, RFC 7252 §9).
 */
import type { DatagramTransport, RemoteAddress } from '../../coap/types.js';
import type { Logger } from '../../util/logger.js';
import { bindUdpSocket, type BoundUdpSocket } from '../udp-socket.js';
import { DtlsClientConnection } from './client-connection.js';
import type { DtlsClientConfig, DtlsClientSession, DtlsClientStats } from './options.js';

export interface DtlsConnectOptions extends DtlsClientConfig {
  host: string;
  port: number;
  /** Local address to bind (default: 127.0.0.1 for a loopback server, else all interfaces). */
  bindHost?: string;
  logger?: Logger;
}

export interface DtlsClientTransport extends DatagramTransport {
  /** The server this session talks to; `send` ignores its `remote` argument. */
  readonly server: RemoteAddress;
  readonly cipherSuite: string;
  readonly resumed: boolean;
  /** The server's Connection ID we put on our records; undefined when none was negotiated. */
  readonly connectionId?: Buffer;
  /** What a later connectDtls needs (resumeSession) for an abbreviated handshake. */
  session(): DtlsClientSession | undefined;
  isOpen(): boolean;
  /** Called once when the server ends the session (close_notify or a fatal alert). */
  onClose(handler: (reason: string) => void): void;
  /**
   * Continues the session from a fresh local port, as after a NAT rebinding. Only useful
   * with a Connection ID: without one the server cannot know the new address is us.
   */
  rebind(): Promise<RemoteAddress>;
  stats(): DtlsClientStats;
}

function defaultBindHost(host: string): string {
  if (host === '127.0.0.1' || host === 'localhost') return '127.0.0.1';
  if (host === '::1') return '::1';
  return host.includes(':') ? '::' : '0.0.0.0';
}

export async function connectDtls(options: DtlsConnectOptions): Promise<DtlsClientTransport> {
  const server: RemoteAddress = { address: options.host === 'localhost' ? '127.0.0.1' : options.host.replace(/^\[|\]$/g, ''), port: options.port };
  const bindHost = options.bindHost ?? defaultBindHost(server.address);
  let socket: BoundUdpSocket = await bindUdpSocket(bindHost, 0);
  let deliver: (data: Buffer, remote: RemoteAddress) => void = () => {};
  const closeHandlers: Array<(reason: string) => void> = [];
  let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  const established = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  let connection: DtlsClientConnection;
  try {
    connection = new DtlsClientConnection(options, {
      sendDatagram: (d) => socket.send(d, server),
      deliver: (d) => deliver(d, server),
      onEstablished: () => settle?.resolve(),
      onClosed: (reason, error) => {
        options.logger?.debug({ dtls: { server, reason } }, 'dtls client session closed');
        if (settle && error) settle.reject(error);
        else settle?.reject(new Error(reason));
        for (const h of closeHandlers.splice(0)) h(reason);
      },
    });
  } catch (err) {
    await socket.close();
    throw err;
  }
  const listen = (s: BoundUdpSocket): void =>
    s.onMessage((d, from) => {
      // One peer only: anything from elsewhere is not part of this session.
      if (from.port === server.port && from.address === server.address) connection.handleDatagram(d);
    });
  listen(socket);
  connection.start();
  try {
    await established;
  } catch (err) {
    await socket.close();
    throw err;
  } finally {
    settle = undefined;
  }
  options.logger?.debug({ dtls: { server, cipherSuite: connection.cipherSuiteName, resumed: connection.wasResumed } }, 'dtls client connected');
  return {
    server,
    cipherSuite: connection.cipherSuiteName!,
    resumed: connection.wasResumed,
    ...(connection.serverConnectionId ? { connectionId: connection.serverConnectionId } : {}),
    send: (datagram) => {
      connection.sendApplicationData(datagram);
    },
    onDatagram: (handler) => {
      deliver = handler;
    },
    address: () => socket.local,
    session: () => connection.session(),
    isOpen: () => connection.established,
    onClose: (handler) => {
      if (connection.phase === 'closed') handler('already closed');
      else closeHandlers.push(handler);
    },
    rebind: async () => {
      const fresh = await bindUdpSocket(bindHost, 0);
      const old = socket;
      socket = fresh;
      listen(fresh);
      await old.close();
      return fresh.local;
    },
    stats: () => ({ ...connection.stats }),
    close: async () => {
      connection.close();
      await socket.close();
    },
  };
}
