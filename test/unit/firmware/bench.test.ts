import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runManifestBench } from '../../../simulators/bench/manifest-bench.js';
import { SOFTHSM_LIB } from './helpers.js';

describe('manifest bench (short run)', () => {
  it('reports verify rates beside raw node:crypto and, with softhsm2, an HSM sign rate', async () => {
    const r = await runManifestBench(60);
    const expected = ['es256', 'ed25519', 'rsa3072'].flatMap((k) => [`${k}.manifestVerifyPerSec`, `${k}.rawVerifyPerSec`, `${k}.ratio`]);
    if (existsSync(SOFTHSM_LIB)) expected.push('hsm.es256SignPerSec');
    expect(Object.keys(r).sort()).toEqual(expected.sort());
    for (const v of Object.values(r)) expect(v).toBeGreaterThan(0);
  }, 15_000);
});
