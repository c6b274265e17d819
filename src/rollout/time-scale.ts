import { ConfigError } from '../config.js';

/** --time-scale: a number from 1 (real time) to 1,000,000. */
export function parseTimeScale(text: string): number {
  const factor = Number(text);
  if (text.trim() === '' || !Number.isFinite(factor) || factor < 1 || factor > 1_000_000) {
    throw new ConfigError(`--time-scale must be a number from 1 to 1000000, got "${text}"`);
  }
  return factor;
}
