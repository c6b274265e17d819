/**
 * CBOR labels from draft-ietf-suit-manifest (checked against the draft's CDDL and its
 * appendix examples), the trust-domains/update-management companions where noted, and
 * draft-ietf-suit-firmware-encryption for encryption-info.
 */
export const SUIT_ENVELOPE_TAG = 107;

export const ENVELOPE = {
  authenticationWrapper: 2,
  manifest: 3,
} as const;

export const MANIFEST = {
  version: 1,
  sequenceNumber: 2,
  common: 3,
  referenceUri: 4,
  validate: 7,
  load: 8,
  invoke: 9,
  payloadFetch: 16,
  install: 20,
  text: 23,
} as const;

/** Members that may be severed: in the manifest as a SUIT_Digest, in the envelope as bstr. */
export const SEVERABLE_MEMBERS: readonly number[] = [MANIFEST.payloadFetch, MANIFEST.install, MANIFEST.text];

export const COMMON = {
  dependencies: 1,
  components: 2,
  sharedSequence: 4,
} as const;

export const COMMAND = {
  vendorIdentifier: 1,
  classIdentifier: 2,
  imageMatch: 3,
  componentSlot: 5,
  checkContent: 6,
  setComponentIndex: 12,
  abort: 14,
  tryEach: 15,
  write: 18,
  overrideParameters: 20,
  fetch: 21,
  copy: 22,
  invoke: 23,
  deviceIdentifier: 24,
  swap: 31,
  runSequence: 32,
} as const;

export const PARAMETER = {
  vendorId: 1,
  classId: 2,
  imageDigest: 3,
  componentSlot: 5,
  strictOrder: 12,
  softFailure: 13,
  imageSize: 14,
  content: 18,
  encryptionInfo: 19,
  uri: 21,
  sourceComponent: 22,
  invokeArgs: 23,
  deviceId: 24,
  /**
   * Project extension: the current drafts assign no label to compression, so we use the
   * custom-parameter space (negative labels) for SUIT_Compression_Info { 1: algorithm }.
   */
  compressionInfo: -257,
} as const;

export const COMPRESSION_ZLIB = 1;

/** Reporting policy "report on success and failure of sysinfo and record" used by the draft examples. */
export const REPORT_POLICY_ALL = 15;

export const TEXT = {
  manifestDescription: 1,
  updateDescription: 2,
  vendorName: 1,
  modelName: 2,
  vendorDomain: 3,
  modelInfo: 4,
  componentDescription: 5,
  componentVersion: 6,
} as const;
