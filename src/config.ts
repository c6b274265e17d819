import type { DtlsLimits } from './dtls/config.js';

/** The server's configuration, as the CLI flags give it. Defaults live here, once. */
export interface ServerConfig {
  coapHost: string;
  coapPort: number;
  httpHost: string;
  httpPort: number;
  dataDir: string;
  logLevel: string;
  /** Extra folders of DDF XML object definitions, loaded after the bundled objects/. */
  objectDirs: string[];
  /** Where state lives: 'sqlite' (default, <dataDir>/lwm2m.sqlite) or 'memory' (tests only, lost at exit). */
  store?: 'sqlite' | 'memory';
  /** Key that encrypts credentials at rest; default <dataDir>/secret.key, created on first start. */
  secretKeyFile?: string;
  /** How long a queue-mode device is taken to be awake after it last spoke (default 93 s, CoAP's MAX_TRANSMIT_WAIT). */
  queueAwakeTimeSec?: number;
  /** Extra time after a lifetime runs out before a registration is dropped (default 15 s). */
  expiryGraceSec?: number;
  /** UDP port of the bootstrap server on coapHost; 0 = pick a free port. Undefined = 5685, skipped with a warning when taken. */
  bootstrapPort?: number;
  /** UDP port of the bootstrap server's CoAPS (DTLS) listener on coapHost; 0 = a free port. Undefined = 5686, skipped with a warning when taken. */
  bootstrapCoapsPort?: number;
  /** UDP port of the CoAPS (DTLS) listener on coapHost; 0 = pick a free port. Default 5684. */
  coapsPort?: number;
  /** Devices without security info may use plain CoAP (default true for now). An endpoint with security info never may. */
  allowNoSec?: boolean;
  /** The server's P-256 key and certificate chain (PEM files, leaf first); default: a self-signed pair made in dataDir. */
  dtlsKeyFile?: string;
  dtlsCertFile?: string;
  /** Trust anchors (PEM) client certificates must chain to; without it X.509 devices cannot connect. */
  dtlsCaFile?: string;
  /** Bounds of the CoAPS listener (sessions, handshakes in progress, idle timeout, per-IP handshake rate). */
  dtlsLimits?: Partial<DtlsLimits>;
  /** Largest firmware image accepted by POST /api/firmware (default 64 MiB). */
  maxImageBytes?: number;
  /** Host devices use to reach our CoAP port in pull URIs (default: the bound address, or 127.0.0.1 when bound to all). */
  firmwarePullHost?: string;
  /** The rollout scheduler's clock runs this many times faster than real time (rehearsals; default 1). */
  timeScale?: number;
}

export const defaultServerConfig: ServerConfig = {
  coapHost: '0.0.0.0',
  coapPort: 5683,
  // The HTTP API has no operator authentication yet, so it stays on loopback by default.
  httpHost: '127.0.0.1',
  httpPort: 8080,
  dataDir: './data',
  logLevel: 'info',
  objectDirs: [],
  store: 'sqlite',
  coapsPort: 5684,
  allowNoSec: true,
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Ports come from flags as text; 0 means "let the OS pick". */
export function parsePort(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new ConfigError(`${flag} must be a port number (0-65535), got "${text}"`);
  const port = Number(text);
  if (port > 65535) throw new ConfigError(`${flag} must be a port number (0-65535), got ${port}`);
  return port;
}

export function parseStoreKind(text: string): 'sqlite' | 'memory' {
  if (text === 'sqlite' || text === 'memory') return text;
  throw new ConfigError(`--store must be "sqlite" or "memory", got "${text}"`);
}

/** A duration flag in seconds: a non-negative number, fractions allowed. */
export function parseSeconds(text: string, flag: string): number {
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new ConfigError(`${flag} must be a number of seconds (0 or more), got "${text}"`);
  }
  return seconds;
}

/** A count or size flag: a positive whole number. */
export function parsePositiveInteger(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new ConfigError(`${flag} must be a positive whole number, got "${text}"`);
  }
  return Number(text);
}
