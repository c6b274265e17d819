/**
 * Which link a simulated device talks over: while it bootstraps, DTLS to a coaps://
 * bootstrap server with its bootstrap credentials; afterwards DTLS to a coaps:// LwM2M
 * server with the credentials the bootstrap wrote (or those it was configured with);
 * otherwise plain UDP (undefined). A DTLS client is tied to one server, so a device that
 * bootstrapped over DTLS, or is sent to a coaps:// server, opens a new link after
 * Bootstrap-Finish.
 */
import type { RemoteAddress } from '../../src/coap/types.js';
import type { DeviceSecurity } from './dtls-transport.js';

export interface DeviceLink {
  remote: RemoteAddress;
  security: DeviceSecurity;
}

export interface DeviceLinkInput {
  endpointName: string;
  bootstrapping: boolean;
  bootstrapUri: string | undefined;
  bootstrapServer: RemoteAddress | undefined;
  bootstrapSecurity: DeviceSecurity | undefined;
  serverUri: string;
  server: RemoteAddress;
  /** Credentials the last bootstrap wrote, preferred over the configured ones. */
  accountSecurity: DeviceSecurity | undefined;
  security: DeviceSecurity | undefined;
}

export function deviceLinkFor(input: DeviceLinkInput): DeviceLink | undefined {
  if (input.bootstrapping && input.bootstrapUri?.startsWith('coaps://') && input.bootstrapServer) {
    if (!input.bootstrapSecurity) throw new Error(`${input.endpointName}: a coaps:// bootstrap server needs the bootstrapSecurity option`);
    return { remote: input.bootstrapServer, security: input.bootstrapSecurity };
  }
  if (input.serverUri.startsWith('coaps://')) {
    const security = input.accountSecurity ?? input.security;
    if (!security) throw new Error(`${input.endpointName}: a coaps:// server needs the security option`);
    return { remote: input.server, security };
  }
  return undefined;
}
