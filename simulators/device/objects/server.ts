/**
 * Object 1 Server: the registration parameters. Writing the lifetime or binding, or
 * executing Registration Update Trigger (8), makes the device send a registration update.
 */
import { BadValueError, executableResource, SimInstance, valueResource, type SimObject } from './base.js';
import type { ObjectContext } from './context.js';

export const SERVER_RESOURCE = {
  shortServerId: 0,
  lifetime: 1,
  defaultMinPeriod: 2,
  defaultMaxPeriod: 3,
  disable: 4,
  disableTimeout: 5,
  notificationStoring: 6,
  binding: 7,
  registrationUpdateTrigger: 8,
} as const;

const positive = (value: unknown): void => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new BadValueError('lifetime must be a positive integer');
  }
};
const bindingLetters = (value: unknown): void => {
  if (typeof value !== 'string' || !/^[UTSNQ]+$/.test(value)) throw new BadValueError('binding must be letters of UTSNQ');
};

export function serverInstance(instanceId: number, shortServerId: number, context: ObjectContext): SimInstance {
  return new SimInstance(instanceId, [
    valueResource(SERVER_RESOURCE.shortServerId, 'integer', 'R', shortServerId),
    valueResource(SERVER_RESOURCE.lifetime, 'unsigned', 'RW', context.lifetimeSec, {
      validate: positive,
      onWrite: (value) => {
        context.lifetimeSec = value as number;
        context.onRegistrationChange();
      },
    }),
    valueResource(SERVER_RESOURCE.defaultMinPeriod, 'integer', 'RW', 0),
    valueResource(SERVER_RESOURCE.defaultMaxPeriod, 'integer', 'RW', 0),
    executableResource(SERVER_RESOURCE.disable, () => {}),
    valueResource(SERVER_RESOURCE.disableTimeout, 'integer', 'RW', 86_400),
    valueResource(SERVER_RESOURCE.notificationStoring, 'boolean', 'RW', true),
    valueResource(SERVER_RESOURCE.binding, 'string', 'RW', context.binding, {
      validate: bindingLetters,
      onWrite: (value) => {
        context.binding = value as string;
        context.onRegistrationChange();
      },
    }),
    executableResource(SERVER_RESOURCE.registrationUpdateTrigger, () => context.onRegistrationChange()),
  ]);
}

export function serverObject(context: ObjectContext, shortServerId: number): SimObject {
  return {
    id: 1,
    instances: new Map([[0, serverInstance(0, shortServerId, context)]]),
    serverManagesInstances: true,
    // A second server account must not drive this device's registration.
    newInstance: (instanceId) =>
      serverInstance(instanceId, 0, { ...context, onRegistrationChange: () => {} }),
  };
}
