/**
 * Turns a CoAP request from the server into an LwM2M operation on the device's objects
 * (LwM2M 1.1 §6.3/§6.4 over CoAP, Core TS table "Operation → CoAP method"):
 * GET read / discover (Accept: link-format) / observe (Observe 0) / cancel (Observe 1),
 * FETCH composite read or observe, PUT replace or write-attributes (query only),
 * POST create (object) / partial update (instance) / execute (resource), DELETE.
 */
import { CoapCode, CoapOptionNumber, type IncomingRequest, type OutgoingResponse } from '../../src/coap/types.js';
import { encodeUint } from '../../src/coap/options.js';
import { ContentFormat } from '../../src/lwm2m/formats/types.js';
import { serializeLinkFormat } from '../../src/lwm2m/link-format.js';
import type { ObjectModel } from '../../src/lwm2m/model/types.js';
import type { LwM2mNode } from '../../src/lwm2m/node.js';
import { formatPath, InvalidPathError, parsePath, pathLevel, type LwM2mPath } from '../../src/lwm2m/path.js';
import { BadValueError } from './objects/base.js';
import { decodeFor, decodePathList, defaultFormat, encodeComposite, encodeFor, type Lwm2mVersion } from './content.js';
import { OperationError, type ObjectTree } from './object-tree.js';
import { attributesAsLinkParams, parseAttributeQuery, type AttributeStore } from './observe/attributes.js';
import type { ObservationSet, ObservationTarget, Rendered } from './observe/observations.js';

export interface RequestContext {
  tree: ObjectTree;
  model: ObjectModel;
  attributes: AttributeStore;
  observations: ObservationSet;
  version: Lwm2mVersion;
  preferredFormat?: number;
  /** Instances were created or deleted: the next registration update carries the links. */
  onObjectsChanged(): void;
}

const OBSERVE_REGISTER = 0;
const OBSERVE_DEREGISTER = 1;

export function handleDeviceRequest(context: RequestContext, request: IncomingRequest): OutgoingResponse {
  try {
    return dispatch(context, request);
  } catch (error) {
    if (error instanceof OperationError) return failure(error.code, error.message);
    if (error instanceof BadValueError) return failure(CoapCode.BadRequest, error.message);
    throw error;
  }
}

function failure(code: number, reason: string): OutgoingResponse {
  return { code, payload: Buffer.from(reason), contentFormat: ContentFormat.TEXT };
}

function toPath(segments: readonly string[]): LwM2mPath {
  try {
    return parsePath(segments.join('/'));
  } catch (error) {
    if (error instanceof InvalidPathError) throw new OperationError(CoapCode.NotFound, error.message);
    throw error;
  }
}

function dispatch(context: RequestContext, request: IncomingRequest): OutgoingResponse {
  const { tree } = context;
  const path = toPath(request.path);
  const level = pathLevel(path);
  switch (request.method) {
    case 'GET':
      if (request.accept === ContentFormat.LINK) return discover(context, path);
      if (request.observe === OBSERVE_REGISTER) {
        return observe(context, request, { paths: [path], composite: false, format: readFormat(context, request) });
      }
      if (request.observe === OBSERVE_DEREGISTER) context.observations.cancel(request.remote, request.message.token);
      return content(render(context, { paths: [path], composite: false, format: readFormat(context, request) }), readFormat(context, request));
    case 'FETCH': {
      if (level !== 'root') throw new OperationError(CoapCode.MethodNotAllowed, 'composite operations target the root path');
      const paths = decodePathList(request.contentFormat, request.payload);
      const format = request.accept ?? request.contentFormat ?? ContentFormat.SENML_CBOR;
      const target: ObservationTarget = { paths, composite: true, format };
      if (request.observe === OBSERVE_REGISTER) return observe(context, request, target);
      if (request.observe === OBSERVE_DEREGISTER) context.observations.cancel(request.remote, request.message.token);
      return content(render(context, target), format);
    }
    case 'PUT':
      if (request.payload.length === 0 && request.query.length > 0) {
        if (level === 'root') throw new OperationError(CoapCode.MethodNotAllowed, 'attributes need a path');
        tree.ensureExists(path);
        context.attributes.apply(path, parseAttributeQuery(request.query));
        context.observations.checkNow();
        return { code: CoapCode.Changed };
      }
      tree.write(path, decodeFor(request.contentFormat, request.payload, path, context.model), 'replace');
      context.observations.checkNow();
      return { code: CoapCode.Changed };
    case 'POST':
      if (level === 'object') return create(context, request, path);
      if (level === 'instance') {
        tree.write(path, decodeFor(request.contentFormat, request.payload, path, context.model), 'update');
        context.observations.checkNow();
        return { code: CoapCode.Changed };
      }
      if (level === 'resource') {
        tree.execute(path, request.payload.toString('latin1'));
        return { code: CoapCode.Changed };
      }
      throw new OperationError(CoapCode.MethodNotAllowed, `POST is not allowed on ${formatPath(path)}`);
    case 'DELETE':
      tree.delete(path);
      context.observations.cancelBelow(path);
      context.attributes.removeBelow(path);
      context.onObjectsChanged();
      return { code: CoapCode.Deleted };
    default:
      throw new OperationError(CoapCode.MethodNotAllowed, `${request.method} is not an LwM2M operation`);
  }
}

function readFormat(context: RequestContext, request: IncomingRequest): number {
  return request.accept ?? defaultFormat(context.version, context.preferredFormat);
}

function content(rendered: Rendered, format: number): OutgoingResponse {
  return { code: CoapCode.Content, payload: rendered.payload, contentFormat: format };
}

/** Reads and encodes an observation target; shared by reads and notifications. */
export function render(context: Pick<RequestContext, 'tree' | 'model'>, target: ObservationTarget): Rendered {
  if (target.composite) {
    const nodes = new Map<string, LwM2mNode>();
    for (const path of target.paths) nodes.set(formatPath(path), context.tree.read(path));
    return { payload: encodeComposite(target.format, nodes, context.model) };
  }
  const path = target.paths[0];
  const node = context.tree.read(path);
  const payload = encodeFor(target.format, node, path, context.model);
  const value = node.kind === 'singleResource' || node.kind === 'resourceInstance' ? node.value : undefined;
  return { payload, number: typeof value === 'number' ? value : undefined };
}

function observe(context: RequestContext, request: IncomingRequest, target: ObservationTarget): OutgoingResponse {
  const first = render(context, target);
  const sequence = context.observations.add(request.remote, request.message.token, target, first);
  return {
    code: CoapCode.Content,
    payload: first.payload,
    contentFormat: target.format,
    options: [{ number: CoapOptionNumber.Observe, value: encodeUint(sequence) }],
  };
}

function discover(context: RequestContext, path: LwM2mPath): OutgoingResponse {
  const links = context.tree.discover(path, (p) => attributesAsLinkParams(context.attributes.own(p)));
  return { code: CoapCode.Content, payload: Buffer.from(serializeLinkFormat(links)), contentFormat: ContentFormat.LINK };
}

function create(context: RequestContext, request: IncomingRequest, path: LwM2mPath): OutgoingResponse {
  const node =
    request.payload.length === 0 ? undefined : decodeFor(request.contentFormat, request.payload, path, context.model);
  const instanceId = context.tree.create(path.objectId as number, node);
  context.onObjectsChanged();
  return { code: CoapCode.Created, locationPath: [String(path.objectId), String(instanceId)] };
}
