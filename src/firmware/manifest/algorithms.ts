/** COSE algorithm identifiers (IANA "COSE Algorithms") used by our manifests. */
export const COSE_ALG = {
  ES256: -7,
  ESP256: -9,
  EdDSA: -8,
  PS256: -37,
  RS256: -257,
  HMAC256: 5,
  A128GCM: 1,
  A128KW: -3,
  ECDH_ES_A128KW: -29,
  SHA256: -16,
} as const;

export type SignatureAlgName = 'ES256' | 'ESP256' | 'EdDSA' | 'PS256' | 'RS256';
export type AuthAlgName = SignatureAlgName | 'HMAC256';
export type KeyWrapAlgName = 'A128KW' | 'ECDH-ES+A128KW';

const AUTH_ALGS: Record<AuthAlgName, number> = {
  ES256: COSE_ALG.ES256,
  ESP256: COSE_ALG.ESP256,
  EdDSA: COSE_ALG.EdDSA,
  PS256: COSE_ALG.PS256,
  RS256: COSE_ALG.RS256,
  HMAC256: COSE_ALG.HMAC256,
};

export function authAlgId(name: AuthAlgName): number {
  return AUTH_ALGS[name];
}

export function authAlgName(id: number): AuthAlgName | undefined {
  for (const [name, value] of Object.entries(AUTH_ALGS)) if (value === id) return name as AuthAlgName;
  return undefined;
}

export function isSignatureAlg(id: number): boolean {
  const name = authAlgName(id);
  return name !== undefined && name !== 'HMAC256';
}
