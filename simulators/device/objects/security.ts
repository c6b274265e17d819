/** Object 0 Security: one instance pointing at the LwM2M server, NoSec mode. */
import { SimInstance, valueResource, type SimObject } from './base.js';
import type { ObjectContext } from './context.js';

const SECURITY_MODE_NOSEC = 3;
/** Shared: writes replace the value, never mutate it. */
const NO_KEY = Buffer.alloc(0);

export function securityInstance(instanceId: number, serverUri: string, shortServerId: number): SimInstance {
  return new SimInstance(instanceId, [
    valueResource(0, 'string', 'RW', serverUri),
    valueResource(1, 'boolean', 'RW', false),
    valueResource(2, 'integer', 'RW', SECURITY_MODE_NOSEC),
    valueResource(3, 'opaque', 'RW', NO_KEY),
    valueResource(4, 'opaque', 'RW', NO_KEY),
    valueResource(5, 'opaque', 'RW', NO_KEY),
    valueResource(10, 'integer', 'RW', shortServerId),
    valueResource(11, 'integer', 'RW', 1),
  ]);
}

export function securityObject(context: ObjectContext, shortServerId: number): SimObject {
  return {
    id: 0,
    instances: new Map([[0, securityInstance(0, context.serverUri, shortServerId)]]),
    serverManagesInstances: true,
    newInstance: (instanceId) => securityInstance(instanceId, '', 0),
  };
}
