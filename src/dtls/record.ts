/**
 * DTLS record layer framing (RFC 6347 §4.1, RFC 9146 §4). Pure: bytes in, records out.
 * A datagram may carry several records; a record that does not parse ends the datagram,
 * because its length can no longer be trusted to find the next one.
 */
import { ByteReader, DtlsDecodeError, u16, u48, u8 } from './bytes.js';
import { ContentType, DTLS_1_0, DTLS_1_2, DTLS_LEGACY_ZERO, RECORD_HEADER_LENGTH } from './constants.js';

export interface DtlsRecord {
  /** Outer content type as on the wire (25 for a CID record). */
  type: number;
  version: number;
  epoch: number;
  /** 48-bit record sequence number. */
  sequence: number;
  /** Present only on tls12_cid records. */
  cid?: Buffer;
  fragment: Buffer;
}

export const MAX_SEQUENCE = 2 ** 48 - 1;
/** RFC 6347: a record must not exceed 2^14 plaintext plus 2048 of expansion. */
const MAX_FRAGMENT = 16384 + 2048;

/**
 * Splits one datagram into records. `cidLength` is the length of the Connection IDs this
 * server hands out (CID records carry no length byte, so the receiver must know it).
 */
export function parseRecords(datagram: Buffer, cidLength: number): { records: DtlsRecord[]; malformed: number } {
  const records: DtlsRecord[] = [];
  const reader = new ByteReader(datagram);
  while (reader.remaining > 0) {
    try {
      const type = reader.u8();
      const version = reader.u16();
      const epoch = reader.u16();
      const sequence = reader.u48();
      const cid = type === ContentType.Tls12Cid ? Buffer.from(reader.bytes(cidLength)) : undefined;
      const length = reader.u16();
      if (length > MAX_FRAGMENT) throw new DtlsDecodeError('record too long');
      const fragment = reader.bytes(length);
      if (!isAcceptableVersion(type, version, epoch)) continue;
      records.push({ type, version, epoch, sequence, ...(cid ? { cid } : {}), fragment });
    } catch {
      return { records, malformed: 1 };
    }
  }
  return { records, malformed: 0 };
}

/**
 * Everything is 1.2, except that a first ClientHello (epoch 0, handshake) may announce 1.0
 * or mbedTLS's 0xFE00 in its record header; the hello body carries the real version.
 */
function isAcceptableVersion(type: number, version: number, epoch: number): boolean {
  if (version === DTLS_1_2) return true;
  return epoch === 0 && type === ContentType.Handshake && (version === DTLS_1_0 || version === DTLS_LEGACY_ZERO);
}

export function encodeRecord(record: DtlsRecord): Buffer {
  return Buffer.concat([encodeRecordHeader(record, record.fragment.length), record.fragment]);
}

export function encodeRecordHeader(record: Omit<DtlsRecord, 'fragment'>, length: number): Buffer {
  return Buffer.concat([
    u8(record.type),
    u16(record.version),
    u16(record.epoch),
    u48(record.sequence),
    record.cid ?? Buffer.alloc(0),
    u16(length),
  ]);
}

export const recordHeaderLength = (cidLength: number): number => RECORD_HEADER_LENGTH + cidLength;
