/**
 * `npm run simulate -- --server coap://127.0.0.1:5683 --devices 100 --prefix sim-`
 * Starts a fleet of simulated devices, prints one JSON line per milestone, and on SIGINT/
 * SIGTERM deregisters every device before exiting.
 */
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../src/util/logger.js';
import type { Lwm2mVersion } from './device/content.js';
import { parseServerUri } from './device/simulated-device.js';
import { Fleet, type FleetMilestone } from './fleet.js';
import { BootstrapFleet } from './device/bootstrap-fleet.js';

const positiveInteger = (text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new InvalidArgumentError('expected a positive integer');
  return value;
};

/** "200/s", "200" → 200 devices per second. */
const parseRate = (text: string): number => {
  const match = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(text.trim());
  if (!match || Number(match[1]) <= 0) throw new InvalidArgumentError('expected a rate like 200/s');
  return Number(match[1]);
};

const version = (text: string): Lwm2mVersion => {
  if (text !== '1.0' && text !== '1.1' && text !== '1.2') throw new InvalidArgumentError('expected 1.0, 1.1 or 1.2');
  return text;
};

const serverUri = (text: string): string => {
  try {
    parseServerUri(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return text;
};

const print = (line: object): void => void process.stdout.write(JSON.stringify(line) + '\n');

const program = new Command()
  .name('simulate')
  .description('Run a fleet of simulated LwM2M devices against a server')
  .option('--server <uri>', 'server URI, coap://host:port (required unless --bootstrap)', serverUri)
  .option('--bootstrap <uri>', 'bootstrap server URI, coap://host:port: bootstrap first, then register with the server given', serverUri)
  .option('--devices <n>', 'number of devices', positiveInteger, 100)
  .option('--prefix <text>', 'endpoint name prefix', 'sim-')
  .option('--lifetime <seconds>', 'registration lifetime', positiveInteger, 300)
  .option('--lwm2m <version>', 'LwM2M version: 1.0, 1.1 or 1.2', version, '1.1' as Lwm2mVersion)
  .option('--queue', 'queue mode: sleep between registration updates', false)
  .option('--start-rate <rate>', 'devices started per second, e.g. 200/s', parseRate, 200)
  .option('--log-level <level>', 'pino level for device logs', 'warn')
  .action(async (options: {
    server?: string;
    bootstrap?: string;
    devices: number;
    prefix: string;
    lifetime: number;
    lwm2m: Lwm2mVersion;
    queue: boolean;
    startRate: number;
    logLevel: string;
  }) => {
    if (options.bootstrap !== undefined) {
      const bootstrapped = new BootstrapFleet(
        {
          bootstrapUri: options.bootstrap,
          count: options.devices,
          prefix: options.prefix,
          lwm2mVersion: options.lwm2m,
          startRatePerSec: options.startRate,
          logger: createLogger(options.logLevel),
        },
        print,
      );
      const stopBootstrapped = async (signal: string): Promise<void> => {
        print({ msg: 'stopping', signal, registered: bootstrapped.registeredCount });
        await bootstrapped.stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void stopBootstrapped('SIGINT'));
      process.once('SIGTERM', () => void stopBootstrapped('SIGTERM'));
      setInterval(() => {}, 1 << 30);
      await bootstrapped.start();
      return;
    }
    if (options.server === undefined) throw new InvalidArgumentError('--server <uri> is required (or --bootstrap <uri>)');
    const fleet = new Fleet(
      {
        serverUri: options.server,
        count: options.devices,
        prefix: options.prefix,
        lifetimeSec: options.lifetime,
        lwm2mVersion: options.lwm2m,
        queueMode: options.queue,
        startRatePerSec: options.startRate,
        logger: createLogger(options.logLevel),
      },
      (milestone: FleetMilestone) => print(milestone),
    );
    let stopping = false;
    const stop = async (signal: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      print({ msg: 'stopping', signal, registered: fleet.registeredCount });
      await fleet.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
    // Device timers are unref'd; this keeps the fleet alive until a signal arrives.
    setInterval(() => {}, 1 << 30);
    await fleet.start();
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`simulate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
