/**
 * Pairing by device type needs the device's type. Operators may set it on the device's
 * record; otherwise, once any device type is paired, a newly registered device that has no
 * type and no explicit assignment is asked for Device Type (/3/0/17) and the answer is kept.
 * From then on its updates and deliveries are held to that type's profile; when the
 * session it registered over is already below that profile's floor, operators get a
 * securityViolation event at once (the next update is refused with 4.03).
 *
 * The type is what the device says, so it counts as a declaration: it never overrides an
 * operator's assignment, and a device that lies about it only chooses among the profiles
 * operators paired with types.
 */
import type { RemoteAddress } from '../../coap/types.js';
import type { Lwm2mEvents, SecurityViolationEvent } from '../../lwm2m/server/events.js';
import type { LwM2mNode } from '../../lwm2m/node.js';
import type { Logger } from '../../util/logger.js';
import type { ProfilePairing } from './pairing.js';
import { verifyTransport } from './verifier.js';
import type { TransportSecurity } from './profile.js';

export const DEVICE_TYPE_PATH = '/3/0/17';

export interface DeviceTypeLearningOptions {
  events: Pick<Lwm2mEvents, 'on'>;
  read(endpoint: string, path: string, options: { timeoutMs: number }): Promise<LwM2mNode>;
  /** How the device's current session is secured ('none' over plain CoAP). */
  transportOf(endpoint: string, remote: RemoteAddress): TransportSecurity;
  pairing: ProfilePairing;
  onViolation(event: SecurityViolationEvent): void;
  logger?: Logger;
  timeoutMs?: number;
}

export function learnDeviceTypes(options: DeviceTypeLearningOptions): () => void {
  const { pairing } = options;
  return options.events.on('registered', ({ registration }) => {
    const endpoint = registration.endpoint;
    const record = pairing.device(endpoint);
    if (!pairing.hasDeviceTypes() || record?.deviceType !== undefined || record?.assigned !== undefined) return;
    void (async () => {
      const node = await options.read(endpoint, DEVICE_TYPE_PATH, { timeoutMs: options.timeoutMs ?? 10_000 });
      const type = node.kind === 'singleResource' && typeof node.value === 'string' ? node.value.trim() : '';
      if (type === '' || type.length > 128) return;
      // Another writer (an operator) may have set the record while we asked.
      const now = pairing.device(endpoint);
      if (now?.deviceType !== undefined || now?.assigned !== undefined) return;
      await pairing.updateDevice(endpoint, { deviceType: type });
      const resolved = pairing.resolve(endpoint);
      if (!resolved || resolved.source !== 'device-type') return;
      options.logger?.info({ ep: endpoint, deviceType: type, profile: resolved.profile.name }, 'device paired with a security profile by its device type');
      const transport = options.transportOf(endpoint, registration.address);
      const check = verifyTransport(resolved.profile, transport);
      if (!check.ok) {
        options.onViolation({ endpoint, reason: check.reason, remote: { address: registration.address.address, port: registration.address.port }, secure: transport !== 'none', operation: 'register' });
      }
    })().catch((err: unknown) => options.logger?.debug({ ep: endpoint, reason: String(err) }, 'could not read the device type'));
  });
}
