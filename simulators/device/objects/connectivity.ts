/**
 * Object 4 Connectivity Monitoring: an NB-IoT modem whose signal strength and link quality
 * vary with time, and whose IP address is derived from the endpoint name.
 */
import { computedResource, multiResource, SimInstance, singleInstanceObject, valueResource, type SimObject } from './base.js';
import type { ObjectContext } from './context.js';

const BEARER_LTE_FDD = 6;
const BEARER_NB_IOT = 7;
/** Signal strength sways over this period, so observers see changes every few seconds. */
const SIGNAL_PERIOD_MS = 60_000;

export function signalStrength(context: ObjectContext): number {
  const phase = ((context.clock.now() + context.seed) % SIGNAL_PERIOD_MS) / SIGNAL_PERIOD_MS;
  return Math.round(-95 + 12 * Math.sin(2 * Math.PI * phase));
}

export function connectivityObject(context: ObjectContext): SimObject {
  const ip = `10.${(context.seed >>> 16) & 0xff}.${(context.seed >>> 8) & 0xff}.${(context.seed & 0xfe) + 1}`;
  const instance = new SimInstance(0, [
    valueResource(0, 'integer', 'R', BEARER_NB_IOT),
    multiResource(1, 'integer', 'R', [BEARER_LTE_FDD, BEARER_NB_IOT]),
    computedResource(2, 'integer', () => signalStrength(context)),
    computedResource(3, 'integer', () => Math.max(0, Math.min(255, 2 * (signalStrength(context) + 120)))),
    multiResource(4, 'string', 'R', [ip]),
    multiResource(5, 'string', 'R', ['10.0.0.1']),
    valueResource(6, 'integer', 'R', 3),
    multiResource(7, 'string', 'R', ['iot.example']),
    valueResource(8, 'integer', 'R', 0x1a2b00 + (context.seed % 256)),
    valueResource(9, 'integer', 'R', 1),
    valueResource(10, 'integer', 'R', 208),
  ]);
  return singleInstanceObject(4, instance);
}
