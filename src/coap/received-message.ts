import type { CoapCodeValue, CoapMessage, CoapMessageType, CoapOption } from './types.js';

/**
 * A message read from a datagram, whose options stay in the datagram until asked for.
 *
 * Why: a registration carries six or seven options, and giving each an object and a Buffer
 * view on arrival (then decoding the path and query from the views) was a sixth of the
 * server's own work per registration. Here the parser records where each value lies, the
 * hot readers (one option's value, the Uri-Path or Uri-Query strings) read the datagram
 * directly, and `options` builds the usual CoapOption list only for code that wants it.
 */
export class ReceivedMessage implements CoapMessage {
  readonly #datagram: Buffer;
  /** Per option, in wire order: its number, then its value's start and end in the datagram. */
  readonly #layout: number[];
  #options: CoapOption[] | undefined;
  /** The datagram from the first option value to the last, as Latin-1 (made on first use). */
  #optionsText: string | undefined;

  constructor(
    readonly type: CoapMessageType,
    readonly code: CoapCodeValue,
    readonly messageId: number,
    readonly token: Buffer,
    readonly payload: Buffer,
    datagram: Buffer,
    layout: number[],
  ) {
    this.#datagram = datagram;
    this.#layout = layout;
  }

  get options(): CoapOption[] {
    if (this.#options === undefined) {
      const layout = this.#layout;
      const options: CoapOption[] = new Array(layout.length / 3);
      for (let i = 0; i < layout.length; i += 3) {
        options[i / 3] = { number: layout[i], value: this.#datagram.subarray(layout[i + 1], layout[i + 2]) };
      }
      this.#options = options;
    }
    return this.#options;
  }

  /** The first value of option `number`, or undefined. */
  optionValue(number: number): Buffer | undefined {
    const layout = this.#layout;
    for (let i = 0; i < layout.length; i += 3) {
      if (layout[i] === number) return this.#datagram.subarray(layout[i + 1], layout[i + 2]);
    }
    return undefined;
  }

  /** The first value of option `number` as an unsigned integer (RFC 7252 §3.2), or undefined. */
  optionUint(number: number): number | undefined {
    const layout = this.#layout;
    for (let i = 0; i < layout.length; i += 3) {
      if (layout[i] !== number) continue;
      let n = 0;
      for (let at = layout[i + 1]; at < layout[i + 2]; at++) n = n * 256 + this.#datagram[at];
      return n;
    }
    return undefined;
  }

  hasOption(number: number): boolean {
    const layout = this.#layout;
    for (let i = 0; i < layout.length; i += 3) if (layout[i] === number) return true;
    return false;
  }

  /** Every value of option `number` decoded as UTF-8, in wire order (Uri-Path, Uri-Query...). */
  optionStrings(number: number): string[] {
    const layout = this.#layout;
    const datagram = this.#datagram;
    const out: string[] = [];
    for (let i = 0; i < layout.length; i += 3) {
      if (layout[i] !== number) continue;
      const start = layout[i + 1];
      const end = layout[i + 2];
      if (isAscii(datagram, start, end)) {
        // ASCII reads the same in Latin-1 and UTF-8: cut it from one decode of all options,
        // one call into the runtime per message instead of one per value.
        this.#optionsText ??= datagram.toString('latin1', layout[1], layout[layout.length - 1]);
        out.push(this.#optionsText.substring(start - layout[1], end - layout[1]));
      } else {
        out.push(datagram.toString('utf8', start, end));
      }
    }
    return out;
  }

  /** The first option number, in wire order, that `test` accepts. */
  findOptionNumber(test: (number: number) => boolean): number | undefined {
    const layout = this.#layout;
    for (let i = 0; i < layout.length; i += 3) if (test(layout[i])) return layout[i];
    return undefined;
  }
}

function isAscii(bytes: Buffer, start: number, end: number): boolean {
  for (let at = start; at < end; at++) if (bytes[at] >= 0x80) return false;
  return true;
}
