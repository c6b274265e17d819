/**
 * DTLS record layer framing (RFC 6347 §4.1, RFC 9146 §4). Pure: bytes in, records out.
 * A datagram may carry several records; a record that does not parse ends the datagram,
 * because its length can no longer be trusted to find the next one.
 */
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
  const end = datagram.length;
  let at = 0;
  while (at < end) {
    // Bounds are checked by hand (one comparison per record instead of one per field):
    // this runs for every datagram the server receives.
    const type = datagram[at];
    const cid = type === ContentType.Tls12Cid ? cidLength : 0;
    const fragmentAt = at + RECORD_HEADER_LENGTH + cid;
    if (fragmentAt > end) return { records, malformed: 1 };
    const version = (datagram[at + 1] << 8) | datagram[at + 2];
    const epoch = (datagram[at + 3] << 8) | datagram[at + 4];
    const sequence = ((datagram[at + 5] << 8) | datagram[at + 6]) * 0x1_0000_0000 + datagram.readUInt32BE(at + 7);
    const length = (datagram[fragmentAt - 2] << 8) | datagram[fragmentAt - 1];
    if (length > MAX_FRAGMENT || fragmentAt + length > end) return { records, malformed: 1 };
    at = fragmentAt + length;
    if (!isAcceptableVersion(type, version, epoch)) continue;
    records.push({
      type,
      version,
      epoch,
      sequence,
      cid: type === ContentType.Tls12Cid ? datagram.subarray(fragmentAt - 2 - cid, fragmentAt - 2) : undefined,
      fragment: datagram.subarray(fragmentAt, fragmentAt + length),
    });
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
  const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + (record.cid ? record.cid.length : 0) + record.fragment.length);
  const at = writeRecordHeader(out, record, record.fragment.length);
  record.fragment.copy(out, at);
  return out;
}

export function encodeRecordHeader(record: Omit<DtlsRecord, 'fragment'>, length: number): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + (record.cid ? record.cid.length : 0));
  writeRecordHeader(out, record, length);
  return out;
}

/** Writes the header at the start of `out`; returns where the fragment goes. */
function writeRecordHeader(out: Buffer, record: Omit<DtlsRecord, 'fragment'>, length: number): number {
  out[0] = record.type;
  out.writeUInt16BE(record.version, 1);
  out.writeUInt16BE(record.epoch, 3);
  out.writeUIntBE(record.sequence, 5, 6);
  let at = 11;
  if (record.cid) at += record.cid.copy(out, at);
  out.writeUInt16BE(length, at);
  return at + 2;
}

export const recordHeaderLength = (cidLength: number): number => RECORD_HEADER_LENGTH + cidLength;
