/**
 * One simulated device with persisted firmware slots, as its own process, so tests can
 * cut its power for real (SIGKILL) and start it again on the same state folder.
 *   node --import tsx simulators/device/firmware/run-device.ts <serverUri> <endpoint> <stateDir> [behaviour JSON]
 * Prints one JSON line per event: {"event":"registered"}, {"event":"rebooting"}.
 */
import { SimulatedDevice } from '../simulated-device.js';
import type { FirmwareBehaviour } from './behaviour.js';

const [serverUri, endpointName, stateDir, behaviourJson] = process.argv.slice(2);
if (!serverUri || !endpointName || !stateDir) {
  process.stderr.write('usage: run-device.ts <serverUri> <endpoint> <stateDir> [behaviour JSON]\n');
  process.exit(2);
}
const behaviour = behaviourJson ? (JSON.parse(behaviourJson) as FirmwareBehaviour & { blockSzx?: number; ackTimeoutMs?: number }) : {};
const device = new SimulatedDevice({
  serverUri,
  endpointName,
  lifetimeSec: 300,
  retryDelayMs: 200,
  rebootDelayMs: 20,
  ackTimeoutMs: behaviour.ackTimeoutMs ?? 300,
  blockSzx: behaviour.blockSzx,
  firmware: { stateDir, behaviour },
});
const say = (event: string, extra: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ event, version: device.firmware.running.version, ...extra })}\n`);
};
device.on('registered', () => say('registered'));
device.on('rebooting', () => say('rebooting'));
process.on('SIGTERM', () => void device.stop().then(() => process.exit(0)));
void device.register().catch((err: unknown) => say('registration-failed', { reason: String(err) }));
