/** SUIT_Digest with its algorithm (COSE id, -16 = SHA-256). */
export interface SuitDigest {
  readonly alg: number;
  readonly bytes: Uint8Array;
}

/** Human-readable, severable description of the update. */
export interface ManifestText {
  readonly name?: string;
  readonly version?: string;
  readonly description?: string;
  readonly vendorName?: string;
  readonly vendorDomain?: string;
}

/** What an author asks for: one image, one component. */
export interface ManifestSpec {
  readonly sequenceNumber: number;
  readonly vendorId: Uint8Array;
  readonly classId: Uint8Array;
  /** Digest and size of the image as installed (after decryption and decompression). */
  readonly imageDigest: SuitDigest;
  readonly imageSize: number;
  readonly uri?: string;
  /** Tagged COSE_Encrypt bytes from encryptImage(); presence means the payload is encrypted. */
  readonly encryptionInfo?: Uint8Array;
  readonly compression?: 'zlib';
  readonly text?: ManifestText;
  /** Defaults to [h'00'] like the draft examples. */
  readonly componentId?: Uint8Array[];
}

/** What a decoder found in a manifest; fields are absent when the manifest does not state them. */
export interface ParsedManifest {
  readonly version: number;
  readonly sequenceNumber: number;
  readonly components: Uint8Array[][];
  readonly vendorId?: Uint8Array;
  readonly classId?: Uint8Array;
  readonly imageDigest?: SuitDigest;
  readonly imageSize?: number;
  readonly uri?: string;
  readonly encryptionInfo?: Uint8Array;
  readonly compression?: 'zlib';
  readonly checksVendor: boolean;
  readonly checksClass: boolean;
  readonly text?: ManifestText;
  /** Labels of sequences present (inline or by digest). */
  readonly sequences: number[];
}
