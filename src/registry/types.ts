/** What the registry client takes and gives, as plain data. */

/**
 * Credentials as Docker's X-Registry-Auth carries them. `username`/`password`
 * authenticate with Basic (directly, or at a token server); `identitytoken` is
 * an OAuth2 refresh token from a previous login; `registrytoken` is a bearer
 * token sent as it is.
 */
export interface Credentials {
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  serveraddress?: string;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  /** Computed from `bytes`, never taken on the server's word. */
  digest: string;
}

export interface RegistryClientOptions {
  /** host[:port] names or CIDR ranges (10.0.0.0/8) spoken to over plain HTTP. */
  insecureRegistries?: string[];
  userAgent?: string;
  /** How long to wait for a response's headers, and for the next bytes of a body. */
  timeoutMs?: number;
}
