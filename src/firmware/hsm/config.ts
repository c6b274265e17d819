/** Where the signing key lives. Everything comes from configuration; nothing is hard-coded. */
export interface HsmConfig {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  readonly modulePath: string;
  /** Label of the token holding the key. */
  readonly tokenLabel: string;
  readonly pin: string;
  /** Label of the key pair inside the token. */
  readonly keyLabel: string;
}

/** Reads HSM settings from environment variables (LWM2M_PKCS11_MODULE, _TOKEN, _PIN, _KEY). */
export function hsmConfigFromEnv(env: NodeJS.ProcessEnv = process.env): HsmConfig | undefined {
  const modulePath = env.LWM2M_PKCS11_MODULE;
  const tokenLabel = env.LWM2M_PKCS11_TOKEN;
  const pin = env.LWM2M_PKCS11_PIN;
  if (!modulePath || !tokenLabel || !pin) return undefined;
  return { modulePath, tokenLabel, pin, keyLabel: env.LWM2M_PKCS11_KEY ?? 'firmware-signing' };
}
