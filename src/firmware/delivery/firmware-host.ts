/**
 * Hosts images for pull on the server's own CoAP endpoint, at a per-delivery path
 * /fw/<token>. The endpoint does the Block2 slicing (RFC 7959) of the whole image we
 * return, with our ETag (a prefix of the image's SHA-256), so a device resuming from any
 * block after a reboot gets the same representation and can tell if it changed.
 */
import type { Block2Served } from '../../coap/endpoint.js';
import { getBlockOption } from '../../coap/options.js';
import { CoapCode, CoapOptionNumber, type IncomingRequest, type OutgoingResponse } from '../../coap/types.js';
import { ContentFormat } from '../../lwm2m/formats/types.js';

export const PULL_PATH_PREFIX = 'fw';

interface Hosted {
  bytes: Buffer;
  etag: Buffer;
  response: OutgoingResponse;
  /** Told when a block is served: every block with blocksServed() wired, else block 0 and re-fetches after the endpoint's cache expired. */
  onFetch: ((blockNum: number, blockSize: number) => void) | undefined;
}

export class FirmwareHost {
  private readonly hosted = new Map<string, Hosted>();
  /** The same entries by response object: what the endpoint's Block2 hook hands back. */
  private readonly byResponse = new WeakMap<OutgoingResponse, Hosted>();

  /**
   * The listener for CoapEndpoint.onBlock2Served: every block served, including those the
   * endpoint answers from its Block2 cache without asking us, reaches the delivery's onFetch.
   * (handle() still reports what reaches it, for endpoints without the hook: progress is a
   * position, so hearing of a block twice is harmless.)
   */
  blocksServed(): (served: Block2Served) => void {
    return (served) => {
      const entry = this.byResponse.get(served.response);
      if (entry?.onFetch) entry.onFetch(served.num, 2 ** (served.szx + 4));
    };
  }

  /** Serves `bytes` at /fw/<token>; returns the path segments. */
  host(token: string, bytes: Buffer, sha256Hex: string, onFetch?: (blockNum: number, blockSize: number) => void): string[] {
    const etag = Buffer.from(sha256Hex.slice(0, 16), 'hex');
    // One response object per hosted image: the endpoint's Block2 cache recognises it.
    const response: OutgoingResponse = {
      code: CoapCode.Content,
      payload: bytes,
      contentFormat: ContentFormat.OPAQUE,
      options: [{ number: CoapOptionNumber.ETag, value: etag }],
    };
    const entry: Hosted = { bytes, etag, response, onFetch };
    this.hosted.set(token, entry);
    this.byResponse.set(response, entry);
    return [PULL_PATH_PREFIX, token];
  }

  withdraw(token: string): void {
    const entry = this.hosted.get(token);
    if (entry) this.byResponse.delete(entry.response);
    this.hosted.delete(token);
  }

  get size(): number {
    return this.hosted.size;
  }

  /** The answer for a /fw/... request, or undefined when the request is not ours. */
  handle(request: IncomingRequest): OutgoingResponse | undefined {
    if (request.path[0] !== PULL_PATH_PREFIX) return undefined;
    if (request.path.length !== 2) return text(CoapCode.NotFound, 'no such firmware image');
    const entry = this.hosted.get(request.path[1]);
    if (!entry) return text(CoapCode.NotFound, 'no such firmware image (the delivery ended or never existed)');
    if (request.method !== 'GET') return text(CoapCode.MethodNotAllowed, 'firmware images are read with GET');
    if (entry.onFetch) {
      let num = 0;
      let size = 1024;
      try {
        const block = getBlockOption(request.message, CoapOptionNumber.Block2);
        if (block) {
          num = block.num;
          size = 2 ** (block.szx + 4);
        }
      } catch {
        // A bad Block2 option: the endpoint answers it; nothing to count.
      }
      entry.onFetch(num, size);
    }
    return entry.response;
  }

  /** A handler that serves our paths and passes everything else to `next` (synchronous if `next` is). */
  wrap<T extends OutgoingResponse | Promise<OutgoingResponse>>(next: (request: IncomingRequest) => T): (request: IncomingRequest) => OutgoingResponse | T {
    return (request) => this.handle(request) ?? next(request);
  }
}

function text(code: number, reason: string): OutgoingResponse {
  return { code, payload: Buffer.from(reason, 'utf8'), contentFormat: ContentFormat.TEXT };
}
