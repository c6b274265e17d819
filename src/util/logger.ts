import { pino, type Logger } from 'pino';

export type { Logger };

/** One JSON line per event on stdout; `silent` for tests that do not read logs. */
export function createLogger(level: string = 'info'): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}

export const silentLogger: Logger = pino({ level: 'silent' });
