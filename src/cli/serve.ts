import type { Command } from 'commander';
import type { DtlsLimits } from '../dtls/config.js';
import { defaultServerConfig, parsePositiveInteger, parsePort, parseSeconds, parseStoreKind, type ServerConfig } from '../config.js';
import { startServer } from '../server.js';
import { createLogger } from '../util/logger.js';
import { parseTimeScale } from '../rollout/time-scale.js';

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
  bootstrapPort?: string;
  bootstrapCoapsPort?: string;
  coapsPort: string;
  maxImageBytes?: string;
  dtlsMaxSessions?: string;
  dtlsMaxHandshakes?: string;
  dtlsIdleTimeout?: string;
  dtlsHandshakeRate?: string;
  firmwarePullHost?: string;
  allowNosec?: boolean;
  dtlsKey?: string;
  dtlsCert?: string;
  dtlsCa?: string;
  timeScale?: string;
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
    .option('--bootstrap-port <port>', 'UDP port of the bootstrap server on --coap-host (default 5685; 0 = pick a free port)')
    .option('--bootstrap-coaps-port <port>', 'UDP port of the bootstrap server over CoAPS (DTLS) on --coap-host (default 5686; 0 = pick a free port)')
    .option('--coaps-port <port>', 'UDP port for CoAPS (DTLS) on --coap-host (0 = pick a free port)', String(d.coapsPort ?? 5684))
    .option('--allow-nosec', 'devices without security info may use plain CoAP (the default for now)')
    .option('--no-allow-nosec', 'refuse plain CoAP: every device needs security info and CoAPS')
    .option('--dtls-key <file>', "the server's P-256 private key (PEM) for ECDHE-ECDSA; default: a self-signed pair made in <data-dir>")
    .option('--dtls-cert <file>', "the server's certificate chain (PEM, leaf first), with --dtls-key")
    .option('--dtls-ca <file>', 'trust anchors (PEM) for device certificates; without it X.509 devices cannot connect')
    .option('--dtls-max-sessions <n>', 'CoAPS sessions held at once, established or handshaking (default 10000)')
    .option('--dtls-max-handshakes <n>', 'CoAPS handshakes in progress at once (default 500)')
    .option('--dtls-idle-timeout <seconds>', 'drop a CoAPS session silent for this long (default 1800)')
    .option('--dtls-handshake-rate <per-second>', 'new CoAPS handshakes allowed per source IP per second, in bursts of twice that (default 10)')
    .option('--max-image-bytes <bytes>', 'largest firmware image POST /api/firmware accepts (default 67108864 = 64 MiB)')
    .option('--firmware-pull-host <host>', 'host name devices use in pull URIs (default: the CoAP address, or 127.0.0.1 when bound to all)')
    .option('--time-scale <factor>', "run the rollout scheduler's clock this many times faster (rehearsing a plan against the simulated fleet)")
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
        bootstrapPort: flags.bootstrapPort === undefined ? undefined : parsePort(flags.bootstrapPort, '--bootstrap-port'),
        bootstrapCoapsPort: flags.bootstrapCoapsPort === undefined ? undefined : parsePort(flags.bootstrapCoapsPort, '--bootstrap-coaps-port'),
        coapsPort: parsePort(flags.coapsPort, '--coaps-port'),
        allowNoSec: flags.allowNosec ?? d.allowNoSec,
        dtlsKeyFile: flags.dtlsKey,
        dtlsCertFile: flags.dtlsCert,
        dtlsCaFile: flags.dtlsCa,
        maxImageBytes: flags.maxImageBytes === undefined ? undefined : parsePositiveInteger(flags.maxImageBytes, '--max-image-bytes'),
        firmwarePullHost: flags.firmwarePullHost,
        dtlsLimits: dtlsLimitsFrom(flags),
      };
      if (flags.timeScale !== undefined) config.timeScale = parseTimeScale(flags.timeScale);
      const logger = createLogger(config.logLevel);
      if (config.timeScale !== undefined && config.timeScale !== 1) {
        // Said loudly, whatever --log-level says: soak times and windows no longer mean wall-clock time.
        const warn = logger.isLevelEnabled('warn') ? logger : createLogger('warn');
        warn.warn({ timeScale: config.timeScale }, `SIMULATION SPEED: the rollout scheduler's and the firmware deliveries' clock runs ${config.timeScale}x faster than real time (phase timeouts and deferrals too); a one-day soak lasts ${Math.round(86_400 / config.timeScale)} s. Never use this in production.`);
      }
      const server = await startServer(config, logger);
      // One line with every chosen port: tests and scripts that pass port 0 read it, so it
      // is printed whatever --log-level says.
      const announcer = logger.isLevelEnabled('info') ? logger : createLogger('info');
      announcer.info({ coap: server.coapPort, coaps: server.coapsPort, bootstrap: server.bootstrapPort ?? null, bootstrapCoaps: server.bootstrapCoapsPort ?? null, http: server.httpPort }, 'listening');

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

/** Only the limits given on the command line; the DTLS layer's defaults fill in the rest. */
function dtlsLimitsFrom(flags: ServeFlags): Partial<DtlsLimits> {
  const limits: Partial<DtlsLimits> = {};
  if (flags.dtlsMaxSessions !== undefined) limits.maxSessions = parsePositiveInteger(flags.dtlsMaxSessions, '--dtls-max-sessions');
  if (flags.dtlsMaxHandshakes !== undefined) limits.maxHandshakesInProgress = parsePositiveInteger(flags.dtlsMaxHandshakes, '--dtls-max-handshakes');
  if (flags.dtlsIdleTimeout !== undefined) limits.idleTimeoutMs = parseSeconds(flags.dtlsIdleTimeout, '--dtls-idle-timeout') * 1000;
  if (flags.dtlsHandshakeRate !== undefined) {
    const rate = parsePositiveInteger(flags.dtlsHandshakeRate, '--dtls-handshake-rate');
    limits.handshakesPerIpPerSecond = rate;
    limits.handshakeBurstPerIp = rate * 2;
  }
  return limits;
}
