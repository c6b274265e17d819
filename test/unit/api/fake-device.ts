/**
 * A test double of a remote LwM2M device behind the CoapRequester interface: it keeps an
 * object tree, answers reads, writes, executes, creates, deletes, discovers, attribute
 * writes and observes with payloads encoded by the real codecs, and records what it got.
 * `failNext` makes it answer an error code; `silent` makes it time out like a lost device.
 */
import {
  CoapCode,
  CoapTimeoutError,
  type CoapMessage,
  type IncomingResponse,
  type NotificationHandler,
  type Observation,
  type OutgoingRequest,
  type RemoteAddress,
} from '../../../src/coap/types.js';
import type { LwM2mNode, LwM2mObject, ObjectInstance, Resource } from '../../../src/lwm2m/node.js';
import { fromIds, formatPath, type LwM2mPath } from '../../../src/lwm2m/path.js';
import type { ObjectModel } from '../../../src/lwm2m/model/types.js';
import { ContentFormat } from '../../../src/lwm2m/formats/types.js';
import { encodeNode, decodeNode, multiCodecFor } from '../../../src/lwm2m/formats/index.js';
import type { CoapRequester } from '../../../src/lwm2m/server/coap-requester.js';

export interface ReceivedRequest {
  method: string;
  path: string;
  query: string[];
  payload: string;
  contentFormat?: number;
  accept?: number;
}

export class FakeDevice implements CoapRequester {
  readonly objects = new Map<number, LwM2mObject>();
  readonly received: ReceivedRequest[] = [];
  silent = false;
  /** Thrown from the next request as is: an unexpected failure below the API. */
  crashWith: Error | undefined;
  private failure: { code: number; diagnostic: string } | undefined;
  private notify: NotificationHandler | undefined;
  private observeSeq = 2;

  constructor(private readonly model: ObjectModel) {}

  set(objectId: number, instance: ObjectInstance): void {
    const object = this.objects.get(objectId) ?? { kind: 'obj' as const, id: objectId, instances: [] };
    object.instances = [...object.instances.filter((i) => i.id !== instance.id), instance].sort((a, b) => a.id - b.id);
    this.objects.set(objectId, object);
  }

  failNext(code: number, diagnostic = ''): void {
    this.failure = { code, diagnostic };
  }

  /** Sends a notification for the current observation with the node now at `path`. */
  sendNotification(path: LwM2mPath, format: number = ContentFormat.TLV): void {
    const node = this.find(path);
    if (!this.notify || !node) throw new Error('nothing to notify');
    this.notify(this.response(CoapCode.Content, encodeNode(format, node, path, this.model), format, this.observeSeq++));
  }

  async request(_remote: RemoteAddress, req: OutgoingRequest): Promise<IncomingResponse> {
    return this.answer(req);
  }

  async observe(_remote: RemoteAddress, req: OutgoingRequest, onNotification: NotificationHandler): Promise<Observation> {
    const first = this.answer(req, 1);
    this.notify = onNotification;
    return {
      token: Buffer.from([1, 2, 3, 4]),
      first,
      cancel: async () => {
        this.notify = undefined;
      },
    };
  }

  private answer(req: OutgoingRequest, observe?: number): IncomingResponse {
    const segments = (req.path ?? []).filter((s) => s !== '');
    const path = fromIds(segments.map(Number));
    const payload = req.payload ?? Buffer.alloc(0);
    this.received.push({
      method: req.method,
      path: formatPath(path),
      query: req.query ?? [],
      payload: req.contentFormat === ContentFormat.TEXT ? payload.toString() : payload.toString('hex'),
      ...(req.contentFormat !== undefined ? { contentFormat: req.contentFormat } : {}),
      ...(req.accept !== undefined ? { accept: req.accept } : {}),
    });
    if (this.silent) throw new CoapTimeoutError('no answer');
    if (this.crashWith) throw this.crashWith;
    if (this.failure) {
      const { code, diagnostic } = this.failure;
      this.failure = undefined;
      return this.response(code, Buffer.from(diagnostic));
    }
    switch (req.method) {
      case 'GET': {
        if (req.accept === ContentFormat.LINK) return this.discover(path);
        const node = this.find(path);
        if (!node) return this.response(CoapCode.NotFound);
        const format = req.accept ?? ContentFormat.TLV;
        return this.response(CoapCode.Content, encodeNode(format, node, path, this.model), format, observe);
      }
      case 'FETCH': {
        const codec = multiCodecFor(req.contentFormat ?? ContentFormat.SENML_JSON)!;
        const found = new Map<string, LwM2mNode>();
        for (const p of codec.decodePaths(payload)) {
          const node = this.find(p);
          if (node) found.set(formatPath(p), node);
        }
        const format = req.accept ?? ContentFormat.SENML_JSON;
        return this.response(CoapCode.Content, multiCodecFor(format)!.encodeNodes(found, this.model), format);
      }
      case 'PUT':
        if (payload.length === 0) return this.response(CoapCode.Changed);
        this.write(path, decodeNode(req.contentFormat ?? ContentFormat.TLV, payload, path, this.model));
        return this.response(CoapCode.Changed);
      case 'POST':
        if (path.instanceId === undefined) {
          const decoded = decodeNode(req.contentFormat ?? ContentFormat.TLV, payload, path, this.model);
          const instance = decoded.kind === 'obj' ? decoded.instances[0] : (decoded as ObjectInstance);
          this.set(path.objectId!, instance);
          return { ...this.response(CoapCode.Created), message: this.message(CoapCode.Created, Buffer.alloc(0), [String(path.objectId), String(instance.id)]) };
        }
        if (path.resourceId === undefined) {
          this.write(path, decodeNode(req.contentFormat ?? ContentFormat.TLV, payload, path, this.model));
        }
        return this.response(CoapCode.Changed);
      case 'DELETE': {
        const object = this.objects.get(path.objectId!);
        if (!object || !object.instances.some((i) => i.id === path.instanceId)) return this.response(CoapCode.NotFound);
        object.instances = object.instances.filter((i) => i.id !== path.instanceId);
        return this.response(CoapCode.Deleted);
      }
      default:
        return this.response(CoapCode.MethodNotAllowed);
    }
  }

  private discover(path: LwM2mPath): IncomingResponse {
    const node = this.find(path);
    if (!node || node.kind !== 'instance') return this.response(CoapCode.NotFound);
    const base = formatPath(path);
    const links = [`<${base}>;pmin=10`, ...node.resources.map((r) => (r.kind === 'multiResource' ? `<${base}/${r.id}>;dim=${r.values.size}` : `<${base}/${r.id}>`))];
    return this.response(CoapCode.Content, Buffer.from(links.join(',')), ContentFormat.LINK);
  }

  private find(path: LwM2mPath): LwM2mNode | undefined {
    const object = path.objectId === undefined ? undefined : this.objects.get(path.objectId);
    if (!object || path.instanceId === undefined) return object;
    const instance = object.instances.find((i) => i.id === path.instanceId);
    if (!instance || path.resourceId === undefined) return instance;
    const resource = instance.resources.find((r) => r.id === path.resourceId);
    if (!resource || path.resourceInstanceId === undefined) return resource;
    if (resource.kind !== 'multiResource' || !resource.values.has(path.resourceInstanceId)) return undefined;
    return { kind: 'resourceInstance', id: path.resourceInstanceId, type: resource.type, value: resource.values.get(path.resourceInstanceId)! };
  }

  private write(path: LwM2mPath, node: LwM2mNode): void {
    const instance = this.find(fromIds([path.objectId!, path.instanceId!])) as ObjectInstance | undefined;
    if (!instance) return;
    const incoming: Resource[] = node.kind === 'instance' ? node.resources : node.kind === 'resourceInstance' ? [] : [node as Resource];
    const kept = instance.resources.filter((r) => !incoming.some((n) => n.id === r.id));
    instance.resources = [...kept, ...incoming].sort((a, b) => a.id - b.id);
  }

  private message(code: number, payload: Buffer, locationPath: string[] = []): CoapMessage {
    return {
      type: 'ACK',
      code,
      messageId: 1,
      token: Buffer.alloc(0),
      options: locationPath.map((segment) => ({ number: 8, value: Buffer.from(segment) })),
      payload,
    };
  }

  private response(code: number, payload: Buffer = Buffer.alloc(0), contentFormat?: number, observe?: number): IncomingResponse {
    return {
      remote: { address: '127.0.0.1', port: 5683 },
      code,
      payload,
      ...(contentFormat !== undefined ? { contentFormat } : {}),
      ...(observe !== undefined ? { observe } : {}),
      message: this.message(code, payload),
    };
  }
}
