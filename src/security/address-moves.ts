/**
 * Connection ID (RFC 9146) lets a DTLS session continue from a new address when a NAT
 * re-binds the device's port. The session follows by itself; the registration must
 * follow too, or the server's next request would go to the old, dead address.
 */
import type { RemoteAddress } from '../coap/types.js';
import type { Lwm2mEvents } from '../lwm2m/server/events.js';
import type { RegistrationStore } from '../lwm2m/server/registration-store.js';
import { addressKey, type Registration } from '../lwm2m/server/registration.js';
import type { Logger } from '../util/logger.js';

export interface AddressMoveSource {
  onAddressChange(handler: (oldRemote: RemoteAddress, newRemote: RemoteAddress) => void): void;
}

export function followAddressMoves(source: AddressMoveSource, registrations: RegistrationStore, events: Lwm2mEvents, logger?: Logger): void {
  source.onAddressChange((oldRemote, newRemote) => {
    const previous = registrations.getByAddress(oldRemote);
    if (!previous) return;
    const registration: Registration = { ...previous, address: { address: newRemote.address, port: newRemote.port } };
    if (!registrations.update(registration)) return;
    logger?.info({ ep: registration.endpoint, from: addressKey(oldRemote), to: addressKey(newRemote) }, 'device moved (DTLS connection ID)');
    events.emit('updated', { registration, previous });
  });
}
