/** The public API of the CoAP stack. */
export * from './types.js';
export { CoapFormatError, parseMessage, serializeMessage } from './codec.js';
export {
  KNOWN_OPTIONS,
  blockSize,
  decodeBlock,
  decodeUint,
  encodeBlock,
  encodeUint,
  getBlockOption,
  getOption,
  getOptions,
  getUintOption,
  hasOption,
  isCriticalOption,
  locationPath,
  pathOptions,
  queryOptions,
  splitPath,
  splitQuery,
  stringOptions,
  szxForSize,
  uriPath,
  uriQuery,
} from './options.js';
export { bindUdpTransport, type UdpTransportOptions } from './udp-transport.js';
export { CoapEndpoint, type CoapEndpointOptions, type CoapEndpointStats, type NotifyOptions } from './endpoint.js';
export { isFreshNotification } from './observe-freshness.js';
