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
