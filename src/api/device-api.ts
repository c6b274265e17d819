/**
 * The device-management operations the HTTP API calls: the part of the LwM2M services'
 * DeviceClient the routes use, so route tests and the composition root pass the same thing.
 */
import type { DeviceClient } from '../lwm2m/server/device-client.js';

export type DeviceApi = Pick<
  DeviceClient,
  | 'read'
  | 'write'
  | 'execute'
  | 'create'
  | 'delete'
  | 'discover'
  | 'writeAttributes'
  | 'observe'
  | 'cancelObservation'
  | 'observations'
  | 'compositeRead'
>;
