/**
 * Hosts images for pull on the server's own CoAP and CoAPS endpoints, at a per-delivery
 * path /fw/<token>. The endpoint does the Block2 slicing (RFC 7959) of the whole image we
 * return, with our ETag (a prefix of the image's SHA-256), so a device resuming from any
 * block after a reboot gets the same representation and can tell if it changed.
 *
 * Who may fetch: over plain CoAP nobody can be identified, so the unguessable token is the
 * whole capability (as for any plain pull URI). The image of a device that talks to us over
 * CoAPS is served over CoAPS only, and only to that device's own DTLS identity (the same
 * binding its registration passed): a fetch over plain CoAP or from an unauthenticated DTLS
 * session is 4.01, one from another identity is 4.03, each with the reason as payload.
 */
import type { Block2Served } from '../../coap/endpoint.js';
import { getBlockOption } from '../../coap/options.js';
import { CoapCode, CoapOptionNumber, type CoapOption, type IncomingRequest, type OutgoingResponse, type PeerSecurity } from '../../coap/types.js';
import { ContentFormat } from '../../lwm2m/formats/types.js';

export const PULL_PATH_PREFIX = 'fw';

/** Told when a block is served: every block with blocksServed() wired, else block 0 and re-fetches after the endpoint's cache expired. */
export type FetchListener = (blockNum: number, blockSize: number) => void;

/** Whom a hosted image is for. */
export interface HostAccess {
  /** The delivery's device. */
  endpoint: string;
  /** Served over CoAPS only, to the device's own DTLS identity. */
  secure: boolean;
}

/** Why this authenticated peer may not act as `endpoint`, or undefined when it may. */
export type PeerCheck = (endpoint: string, security: PeerSecurity) => string | undefined;

export interface FirmwareHostOptions {
  /** Needed to serve secure images: without it they are refused to everyone (fail closed). */
  checkPeer?: PeerCheck;
  /** Told of every refused fetch (for the log). */
  onRefused?: (endpoint: string, reason: string, security: PeerSecurity | undefined) => void;
  /**
   * Told when an image stops being served here (withdrawn, or replaced under its token):
   * the endpoints drop the blocks they cached of it, which they would otherwise go on
   * serving to the device already pulling it.
   */
  onWithdrawn?: (response: OutgoingResponse) => void;
}

/**
 * The response object of one hosted image: the same object for every request, so the
 * endpoint's Block2 cache recognises it, and the Block2 hook finds its image without a
 * lookup (it runs once per block served).
 */
class HostedImage implements OutgoingResponse {
  readonly code = CoapCode.Content;
  readonly contentFormat = ContentFormat.OPAQUE;
  readonly options: CoapOption[];

  constructor(
    readonly payload: Buffer,
    etag: Buffer,
    public onFetch: FetchListener | undefined,
    readonly access: HostAccess | undefined,
  ) {
    this.options = [{ number: CoapOptionNumber.ETag, value: etag }];
  }
}

/** Seconds a device is told to wait (Max-Age of a 5.03) while the server restores its pull URIs. */
export const RESTORING_RETRY_SEC = 1;

export class FirmwareHost {
  private readonly hosted = new Map<string, HostedImage>();
  /**
   * Set while the server starts: its listener answers before the deliveries in progress
   * have hosted their images again, and a device pulling across the restart would read
   * 4.04 as "this URI is gone" and give up on a delivery that is about to go on.
   */
  private restoring = false;

  constructor(private readonly options: FirmwareHostOptions = {}) {}

  /**
   * The listener for CoapEndpoint.onBlock2Served: every block served, including those the
   * endpoint answers from its Block2 cache without asking us, reaches the delivery's onFetch.
   * (handle() still reports what reaches it, for endpoints without the hook: progress is a
   * position, so hearing of a block twice is harmless.)
   */
  blocksServed(): (served: Block2Served) => void {
    return (served) => {
      const response = served.response;
      if (response instanceof HostedImage && response.onFetch !== undefined) response.onFetch(served.num, 2 ** (served.szx + 4));
    };
  }

  /** Serves `bytes` at /fw/<token>; returns the path segments. */
  host(token: string, bytes: Buffer, sha256Hex: string, onFetch?: FetchListener, access?: HostAccess): string[] {
    const previous = this.hosted.get(token);
    if (previous) {
      previous.onFetch = undefined;
      this.options.onWithdrawn?.(previous);
    }
    this.hosted.set(token, new HostedImage(bytes, Buffer.from(sha256Hex.slice(0, 16), 'hex'), onFetch, access));
    return [PULL_PATH_PREFIX, token];
  }

  withdraw(token: string): void {
    const entry = this.hosted.get(token);
    this.hosted.delete(token);
    if (entry === undefined) return;
    entry.onFetch = undefined;
    this.options.onWithdrawn?.(entry);
  }

  get size(): number {
    return this.hosted.size;
  }

  /** Until endRestoring(), an unknown /fw/<token> is answered 5.03 with Max-Age (come back), not 4.04. */
  beginRestoring(): void {
    this.restoring = true;
  }

  endRestoring(): void {
    this.restoring = false;
  }

  /** The answer for a /fw/... request, or undefined when the request is not ours. */
  handle(request: IncomingRequest): OutgoingResponse | undefined {
    if (request.path[0] !== PULL_PATH_PREFIX) return undefined;
    if (request.path.length !== 2) return text(CoapCode.NotFound, 'no such firmware image');
    const entry = this.hosted.get(request.path[1]);
    if (!entry && this.restoring) {
      return {
        ...text(CoapCode.ServiceUnavailable, 'the server is starting: retry shortly'),
        options: [{ number: CoapOptionNumber.MaxAge, value: Buffer.from([RESTORING_RETRY_SEC]) }],
      };
    }
    if (!entry) return text(CoapCode.NotFound, 'no such firmware image (the delivery ended or never existed)');
    if (request.method !== 'GET') return text(CoapCode.MethodNotAllowed, 'firmware images are read with GET');
    if (entry.access?.secure) {
      const refusal = this.refusal(entry.access.endpoint, request.security);
      if (refusal) return refusal;
    }
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
    return entry;
  }

  /** A handler that serves our paths and passes everything else to `next` (synchronous if `next` is). */
  wrap<T extends OutgoingResponse | Promise<OutgoingResponse>>(next: (request: IncomingRequest) => T): (request: IncomingRequest) => OutgoingResponse | T {
    return (request) => this.handle(request) ?? next(request);
  }

  private refusal(endpoint: string, security: PeerSecurity | undefined): OutgoingResponse | undefined {
    let reason: string | undefined;
    let code: number = CoapCode.Forbidden;
    if (security === undefined) {
      code = CoapCode.Unauthorized;
      reason = `the image for "${endpoint}" is served over CoAPS only, to the device's own DTLS identity`;
    } else if (this.options.checkPeer === undefined) {
      reason = 'this server cannot check DTLS identities for firmware downloads';
    } else {
      reason = this.options.checkPeer(endpoint, security);
    }
    if (reason === undefined) return undefined;
    this.options.onRefused?.(endpoint, reason, security);
    return text(code, reason);
  }
}

function text(code: number, reason: string): OutgoingResponse {
  return { code, payload: Buffer.from(reason, 'utf8'), contentFormat: ContentFormat.TEXT };
}
