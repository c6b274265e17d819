/** TLS 1.2 PRF (RFC 5246 §5) with SHA-256, and the secrets derived from it. */
import { createHash, createHmac } from 'node:crypto';

export function pSha256(secret: Buffer, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let produced = 0;
  let a = seed;
  while (produced < length) {
    a = createHmac('sha256', secret).update(a).digest();
    const block = createHmac('sha256', secret).update(a).update(seed).digest();
    out.push(block);
    produced += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

export function prf(secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  return pSha256(secret, Buffer.concat([Buffer.from(label, 'ascii'), seed]), length);
}

export const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** RFC 4279 §2: premaster = len(N) | N zeros | len(psk) | psk. */
export function pskPremaster(psk: Buffer, otherSecret?: Buffer): Buffer {
  const other = otherSecret ?? Buffer.alloc(psk.length);
  const out = Buffer.alloc(4 + other.length + psk.length);
  out.writeUInt16BE(other.length, 0);
  other.copy(out, 2);
  out.writeUInt16BE(psk.length, 2 + other.length);
  psk.copy(out, 4 + other.length);
  return out;
}

export interface MasterSecretInput {
  premaster: Buffer;
  clientRandom: Buffer;
  serverRandom: Buffer;
  /** RFC 7627: hash of the transcript through ClientKeyExchange, when EMS was negotiated. */
  sessionHash?: Buffer;
}

export function masterSecret(input: MasterSecretInput): Buffer {
  if (input.sessionHash) return prf(input.premaster, 'extended master secret', input.sessionHash, 48);
  return prf(input.premaster, 'master secret', Buffer.concat([input.clientRandom, input.serverRandom]), 48);
}

export function keyBlock(master: Buffer, clientRandom: Buffer, serverRandom: Buffer, length: number): Buffer {
  return prf(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), length);
}

export function finishedVerifyData(master: Buffer, sender: 'client' | 'server', transcriptHash: Buffer): Buffer {
  return prf(master, `${sender} finished`, transcriptHash, 12);
}
