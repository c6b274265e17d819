import type { Command } from 'commander';
import { defaultServerConfig, parsePort, parseSeconds, parseStoreKind, type ServerConfig } from '../config.js';
import { startServer } from '../server.js';
import { createLogger } from '../util/logger.js';

interface ServeFlags {
  coapPort: string;
  httpPort: string;
  coapHost: string;
  httpHost: string;
  dataDir: string;
  logLevel: string;
  objects: string[];
  store: string;
  secretKeyFile?: string;
  queueAwakeTime?: string;
  expiryGrace?: string;
}

export function registerServeCommand(program: Command): void {
  const d = defaultServerConfig;
  program
    .command('serve')
    .description('run the LwM2M server (CoAP) and its HTTP API')
    .option('--coap-port <port>', 'UDP port for CoAP (0 = pick a free port)', String(d.coapPort))
    .option('--http-port <port>', 'TCP port for the HTTP API (0 = pick a free port)', String(d.httpPort))
    .option('--coap-host <host>', 'address CoAP listens on', d.coapHost)
    .option('--http-host <host>', 'address the HTTP API listens on (loopback until operator auth exists)', d.httpHost)
    .option('--data-dir <dir>', 'where the server keeps its data', d.dataDir)
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace', d.logLevel)
    .option('--objects <dir...>', 'extra folders of DDF XML object definitions', [])
    .option('--store <kind>', 'sqlite (state in <data-dir>/lwm2m.sqlite) or memory (tests only: lost at exit)', d.store ?? 'sqlite')
    .option('--secret-key-file <file>', 'key that encrypts credentials at rest (default <data-dir>/secret.key, created mode 0600)')
    .option('--queue-awake-time <seconds>', 'how long a queue-mode device counts as awake after it last spoke (default 93)')
    .option('--expiry-grace <seconds>', 'extra time after a lifetime before the registration is dropped (default 15)')
    .action(async (flags: ServeFlags) => {
      const config: ServerConfig = {
        coapPort: parsePort(flags.coapPort, '--coap-port'),
        httpPort: parsePort(flags.httpPort, '--http-port'),
        coapHost: flags.coapHost,
        httpHost: flags.httpHost,
        dataDir: flags.dataDir,
        logLevel: flags.logLevel,
        objectDirs: flags.objects,
        store: parseStoreKind(flags.store),
        secretKeyFile: flags.secretKeyFile,
        queueAwakeTimeSec: flags.queueAwakeTime === undefined ? undefined : parseSeconds(flags.queueAwakeTime, '--queue-awake-time'),
        expiryGraceSec: flags.expiryGrace === undefined ? undefined : parseSeconds(flags.expiryGrace, '--expiry-grace'),
      };
      const logger = createLogger(config.logLevel);
      const server = await startServer(config, logger);
      // One line with every chosen port: tests and scripts that pass port 0 read it, so it
      // is printed whatever --log-level says.
      const announcer = logger.isLevelEnabled('info') ? logger : createLogger('info');
      announcer.info({ coap: server.coapPort, http: server.httpPort }, 'listening');

      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'stopping');
        server.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'error while stopping');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
