/** Every way a manifest can be refused. One code per distinct reason so callers can act on it. */
export type ManifestErrorCode =
  | 'bad-cbor'
  | 'bad-structure'
  | 'unsupported'
  | 'bad-signature'
  | 'unknown-key'
  | 'missing-signer'
  | 'digest-mismatch'
  | 'untrusted-chain'
  | 'expired-certificate'
  | 'decrypt-failed'
  | 'sequence-not-newer'
  | 'vendor-mismatch'
  | 'class-mismatch'
  | 'algorithm-not-allowed'
  | 'key-too-small'
  | 'encryption-required'
  | 'hsm-error';

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  constructor(
    readonly code: ManifestErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Runs `fn`, turning anything that is not already a ManifestError into one with `code`. */
export async function asManifestError<T>(code: ManifestErrorCode, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ManifestError) throw err;
    throw new ManifestError(code, `${what}: ${(err as Error)?.message ?? String(err)}`);
  }
}
