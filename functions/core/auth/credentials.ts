/** What a credential may do on a bucket. */
export type Access = 'read' | 'write';

export interface Grant {
  /** A bucket name, `*` for every bucket, or a prefix pattern ending in `*` (`logs-*`). */
  bucket: string;
  access: Access[];
}

/** One of the gateway's own credentials (not AWS IAM). */
export interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
  /** Admin rights (bucket creation and deletion anywhere, and the later admin API) are separate from grants. */
  admin: boolean;
  grants: Grant[];
}

/** Looks credentials up by access key id. */
export interface CredentialStore {
  get(accessKeyId: string): Credential | undefined;
}

export class StaticCredentialStore implements CredentialStore {
  private readonly byId: Map<string, Credential>;
  constructor(credentials: Credential[]) {
    this.byId = new Map(credentials.map((c) => [c.accessKeyId, c]));
  }
  get(accessKeyId: string): Credential | undefined {
    return this.byId.get(accessKeyId);
  }
}

function matches(pattern: string, bucket: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return bucket.startsWith(pattern.slice(0, -1));
  return pattern === bucket;
}

/** True when `credential` may `access` `bucket`; admins may do anything. */
export function isAllowed(credential: Credential, bucket: string, access: Access): boolean {
  if (credential.admin) return true;
  return credential.grants.some((g) => matches(g.bucket, bucket) && g.access.includes(access));
}
