/** The cipher suites we negotiate, in server preference order. */
export type KeyExchange = 'psk' | 'ecdhe_ecdsa';
export type BulkCipher = 'aes-128-ccm8' | 'aes-128-gcm' | 'aes-128-cbc-sha256';

export interface CipherSuite {
  id: number;
  name: string;
  keyExchange: KeyExchange;
  cipher: BulkCipher;
  macKeyLength: number;
  encKeyLength: number;
  /** The implicit part of the AEAD nonce (RFC 5288/6655: 4 bytes); 0 for CBC. */
  fixedIvLength: number;
}

export const CIPHER_SUITES: readonly CipherSuite[] = [
  { id: 0xc0ae, name: 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', keyExchange: 'ecdhe_ecdsa', cipher: 'aes-128-ccm8', macKeyLength: 0, encKeyLength: 16, fixedIvLength: 4 },
  { id: 0xc02b, name: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', keyExchange: 'ecdhe_ecdsa', cipher: 'aes-128-gcm', macKeyLength: 0, encKeyLength: 16, fixedIvLength: 4 },
  { id: 0xc0a8, name: 'TLS_PSK_WITH_AES_128_CCM_8', keyExchange: 'psk', cipher: 'aes-128-ccm8', macKeyLength: 0, encKeyLength: 16, fixedIvLength: 4 },
  { id: 0x00ae, name: 'TLS_PSK_WITH_AES_128_CBC_SHA256', keyExchange: 'psk', cipher: 'aes-128-cbc-sha256', macKeyLength: 32, encKeyLength: 16, fixedIvLength: 0 },
];

export function cipherSuiteById(id: number): CipherSuite | undefined {
  return CIPHER_SUITES.find((s) => s.id === id);
}

export const keyBlockLength = (s: CipherSuite): number => 2 * (s.macKeyLength + s.encKeyLength + s.fixedIvLength);
