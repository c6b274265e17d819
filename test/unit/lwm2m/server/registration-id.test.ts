import { describe, it, expect } from 'vitest';
import { randomIdSuffix } from '../../../../src/lwm2m/server/registration-id.js';

describe('randomIdSuffix', () => {
  it('gives 8 base64url characters, none repeated across several pool refills', () => {
    const suffixes = Array.from({ length: 2000 }, randomIdSuffix);
    for (const suffix of suffixes) expect(suffix).toMatch(/^[A-Za-z0-9_-]{8}$/);
    // 2,000 draws of 48 random bits collide with a chance of about 7e-9.
    expect(new Set(suffixes).size).toBe(2000);
  });
});
