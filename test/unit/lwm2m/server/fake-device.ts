import {
  CoapOptionNumber,
  CoapResetError,
  CoapTimeoutError,
  coapCode,
  type CoapOption,
  type IncomingResponse,
  type NotificationHandler,
  type Observation,
  type OutgoingRequest,
  type RemoteAddress,
} from '../../../../src/coap/types.js';
import { ContentFormat } from '../../../../src/lwm2m/formats/types.js';
import { decodeNode, encodeNode, multiCodecFor } from '../../../../src/lwm2m/formats/index.js';
import { serializeLinkFormat, type WebLink } from '../../../../src/lwm2m/link-format.js';
import type { ObjectModel } from '../../../../src/lwm2m/model/types.js';
import type { LwM2mNode, LwM2mObject, ObjectInstance, Resource } from '../../../../src/lwm2m/node.js';
import { formatPath, fromIds, type LwM2mPath } from '../../../../src/lwm2m/path.js';
import type { CoapRequester } from '../../../../src/lwm2m/server/coap-requester.js';

export interface ReceivedRequest {
  remote: RemoteAddress;
  req: OutgoingRequest;
}

/**
 * A test double of a remote LwM2M client: it keeps real object instances and answers
 * with payloads encoded (and reads payloads decoded) by the real codecs. The socket path
 * is tested by the CoAP layer's own tests.
 */
export class FakeDevice implements CoapRequester {
  readonly received: ReceivedRequest[] = [];
  readonly executed: { path: string; args: string }[] = [];
  readonly attributes: { path: string; query: string[] }[] = [];
  /** Path segments the device serves under (its alternate root path), e.g. ['lwm2m']. */
  root: string[] = [];
  /** Next requests fail this way (consumed one per request). */
  readonly failures: ('timeout' | 'reset')[] = [];
  /** Replaces the normal answer when it returns something. */
  override: ((req: OutgoingRequest) => IncomingResponse | undefined) | undefined;
  private readonly observers = new Map<string, { path: LwM2mPath[] | LwM2mPath; format: number; handler: NotificationHandler; seq: number; composite: boolean }>();
  private nextToken = 1;

  constructor(
    private readonly model: ObjectModel,
    readonly objects: Map<number, LwM2mObject>,
    private readonly remoteAddress: RemoteAddress = { address: '10.0.0.1', port: 5683 },
  ) {}

  async request(remote: RemoteAddress, req: OutgoingRequest): Promise<IncomingResponse> {
    this.received.push({ remote, req });
    await Promise.resolve();
    const failure = this.failures.shift();
    if (failure === 'timeout') throw new CoapTimeoutError('no answer');
    if (failure === 'reset') throw new CoapResetError('reset');
    return this.override?.(req) ?? this.answer(req);
  }

  async observe(remote: RemoteAddress, req: OutgoingRequest, onNotification: NotificationHandler): Promise<Observation> {
    const first = await this.request(remote, req);
    const token = Buffer.from([0xab, this.nextToken++]);
    if (first.code >> 5 !== 2) return { token, first, cancel: async () => {} };
    const composite = req.method === 'FETCH';
    const format = first.contentFormat ?? ContentFormat.TLV;
    const path = composite ? multiCodecFor(req.contentFormat!)!.decodePaths(req.payload!) : this.lwm2mPath(req);
    this.observers.set(token.toString('hex'), { path, format, handler: onNotification, seq: 1, composite });
    return {
      token,
      first: { ...first, observe: 1 },
      cancel: async () => {
        this.received.push({ remote, req: { method: 'GET', path: req.path, options: [{ number: CoapOptionNumber.Observe, value: Buffer.from([1]) }] } });
        this.observers.delete(token.toString('hex'));
      },
    };
  }

  observerCount(): number {
    return this.observers.size;
  }

  /** Sends a notification with the current value to every observer (or a raw payload/code). */
  notifyAll(raw?: { payload: Buffer; contentFormat?: number; code?: number }): void {
    for (const observer of this.observers.values()) {
      observer.seq++;
      if (raw) {
        observer.handler(this.response(raw.code ?? coapCode(2, 5), raw.payload, raw.contentFormat, [], observer.seq));
        continue;
      }
      const payload = observer.composite
        ? this.encodeComposite(observer.path as LwM2mPath[], observer.format)
        : encodeNode(observer.format, this.find(observer.path as LwM2mPath)!, observer.path as LwM2mPath, this.model);
      observer.handler(this.response(coapCode(2, 5), payload, observer.format, [], observer.seq));
    }
  }

  setResource(objectId: number, instanceId: number, resource: Resource): void {
    const instance = this.objects.get(objectId)!.instances.find((i) => i.id === instanceId)!;
    instance.resources = instance.resources.filter((r) => r.id !== resource.id).concat(resource).sort((a, b) => a.id - b.id);
  }

  private lwm2mPath(req: OutgoingRequest): LwM2mPath {
    const segments = (req.path ?? []).slice(this.root.length);
    return fromIds(segments.map(Number));
  }

  private answer(req: OutgoingRequest): IncomingResponse {
    const rootOk = this.root.every((s, i) => req.path?.[i] === s);
    if (!rootOk) return this.error(coapCode(4, 4), 'outside the root path');
    const path = this.lwm2mPath(req);
    const ids = [path.objectId, path.instanceId, path.resourceId, path.resourceInstanceId].filter((x) => x !== undefined);
    switch (req.method) {
      case 'GET': {
        if (req.accept === ContentFormat.LINK) return this.discover(path);
        const node = this.find(path);
        if (!node) return this.error(coapCode(4, 4), `${formatPath(path)} not found`);
        const format = req.accept ?? ContentFormat.TLV;
        return this.response(coapCode(2, 5), encodeNode(format, node, path, this.model), format);
      }
      case 'PUT': {
        if (!req.payload) {
          this.attributes.push({ path: formatPath(path), query: req.query ?? [] });
          return this.response(coapCode(2, 4));
        }
        const node = decodeNode(req.contentFormat!, req.payload, path, this.model);
        if (ids.length === 2) this.replaceInstance(path, node as ObjectInstance);
        else if (ids.length === 3) this.setResource(path.objectId!, path.instanceId!, node as Resource);
        else return this.error(coapCode(4, 5), 'unsupported in the fake');
        return this.response(coapCode(2, 4));
      }
      case 'POST': {
        if (ids.length === 3) {
          this.executed.push({ path: formatPath(path), args: req.payload?.toString('utf8') ?? '' });
          return this.response(coapCode(2, 4));
        }
        if (ids.length === 2) {
          const node = decodeNode(req.contentFormat!, req.payload!, path, this.model) as ObjectInstance;
          for (const r of node.resources) this.setResource(path.objectId!, path.instanceId!, r);
          return this.response(coapCode(2, 4));
        }
        if (ids.length === 1) {
          const node = decodeNode(req.contentFormat!, req.payload!, path, this.model) as LwM2mObject;
          const object = this.objects.get(path.objectId!)!;
          const instance = node.instances[0];
          const id = instance.id;
          object.instances.push({ ...instance, id });
          return this.response(coapCode(2, 1), Buffer.alloc(0), undefined, [
            { number: CoapOptionNumber.LocationPath, value: Buffer.from(String(path.objectId)) },
            { number: CoapOptionNumber.LocationPath, value: Buffer.from(String(id)) },
          ]);
        }
        return this.error(coapCode(4, 5), 'bad POST');
      }
      case 'DELETE': {
        const object = this.objects.get(path.objectId!);
        const before = object?.instances.length ?? 0;
        if (object) object.instances = object.instances.filter((i) => i.id !== path.instanceId);
        if ((object?.instances.length ?? 0) === before) return this.error(coapCode(4, 4), 'no such instance');
        return this.response(coapCode(2, 2));
      }
      case 'FETCH': {
        const codec = multiCodecFor(req.contentFormat!)!;
        const paths = codec.decodePaths(req.payload!);
        const format = req.accept ?? req.contentFormat!;
        return this.response(coapCode(2, 5), this.encodeComposite(paths, format), format);
      }
      default:
        return this.error(coapCode(4, 5), 'method not supported by the fake');
    }
  }

  private encodeComposite(paths: LwM2mPath[], format: number): Buffer {
    const nodes = new Map<string, LwM2mNode>();
    for (const p of paths) {
      const node = this.find(p);
      if (node) nodes.set(formatPath(p), node);
    }
    return multiCodecFor(format)!.encodeNodes(nodes, this.model);
  }

  private discover(path: LwM2mPath): IncomingResponse {
    const object = this.objects.get(path.objectId!);
    if (!object) return this.error(coapCode(4, 4), 'no such object');
    const links: WebLink[] = [{ uri: `/${object.id}`, params: { ver: '1.0' } }];
    for (const instance of object.instances) {
      links.push({ uri: `/${object.id}/${instance.id}`, params: {} });
      for (const r of instance.resources) links.push({ uri: `/${object.id}/${instance.id}/${r.id}`, params: r.kind === 'multiResource' ? { dim: String(r.values.size) } : {} });
    }
    return this.response(coapCode(2, 5), Buffer.from(serializeLinkFormat(links)), ContentFormat.LINK);
  }

  find(path: LwM2mPath): LwM2mNode | undefined {
    const object = this.objects.get(path.objectId!);
    if (!object || path.instanceId === undefined) return object;
    const instance = object.instances.find((i) => i.id === path.instanceId);
    if (!instance || path.resourceId === undefined) return instance;
    const resource = instance.resources.find((r) => r.id === path.resourceId);
    if (!resource || path.resourceInstanceId === undefined) return resource;
    if (resource.kind !== 'multiResource' || !resource.values.has(path.resourceInstanceId)) return undefined;
    return { kind: 'resourceInstance', id: path.resourceInstanceId, type: resource.type, value: resource.values.get(path.resourceInstanceId)! };
  }

  private replaceInstance(path: LwM2mPath, node: ObjectInstance): void {
    const object = this.objects.get(path.objectId!)!;
    object.instances = object.instances.filter((i) => i.id !== path.instanceId).concat({ ...node, id: path.instanceId! });
  }

  private error(code: number, text: string): IncomingResponse {
    return this.response(code, Buffer.from(text), ContentFormat.TEXT);
  }

  response(code: number, payload: Buffer = Buffer.alloc(0), contentFormat?: number, options: CoapOption[] = [], observe?: number): IncomingResponse {
    const res: IncomingResponse = {
      remote: this.remoteAddress,
      code,
      payload,
      message: { type: 'ACK', code, messageId: 1, token: Buffer.from([1]), options, payload },
    };
    if (contentFormat !== undefined) res.contentFormat = contentFormat;
    if (observe !== undefined) res.observe = observe;
    return res;
  }
}

export function deviceObjects(): Map<number, LwM2mObject> {
  return new Map<number, LwM2mObject>([
    [
      3,
      {
        kind: 'obj',
        id: 3,
        instances: [
          {
            kind: 'instance',
            id: 0,
            resources: [
              { kind: 'singleResource', id: 0, type: 'string', value: 'ACME' },
              { kind: 'singleResource', id: 1, type: 'string', value: 'Sensor-9' },
              { kind: 'multiResource', id: 6, type: 'integer', values: new Map([[0, 1], [1, 5]]) },
              { kind: 'singleResource', id: 9, type: 'integer', value: 87 },
            ],
          },
        ],
      },
    ],
    [
      5,
      {
        kind: 'obj',
        id: 5,
        instances: [
          {
            kind: 'instance',
            id: 0,
            resources: [
              { kind: 'singleResource', id: 1, type: 'string', value: '' },
              { kind: 'singleResource', id: 3, type: 'integer', value: 0 },
            ],
          },
        ],
      },
    ],
  ]);
}
