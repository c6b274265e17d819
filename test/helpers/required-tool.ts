/**
 * Interop tests need third-party programs. On a developer laptop a missing one skips its
 * tests with a printed reason; under CI=true it is a failure, because .ci/run installs it.
 */
import { spawnSync } from 'node:child_process';

export function hasTool(command: string, installHint: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
  if (found) return true;
  const reason = `${command} not found (${installHint})`;
  if (process.env.CI === 'true') throw new Error(`${reason}: required under CI`);
  console.warn(`SKIPPING tests that need ${reason}`);
  return false;
}
