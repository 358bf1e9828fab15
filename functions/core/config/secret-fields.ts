/**
 * The config fields that hold secrets: a credential's secret, an S3 backend's secret access key, and an
 * encryption block's keys. Redaction, fingerprints and the check for secrets written inline all go by this
 * one list.
 */
const SECRET_FIELD =
  /^(?:credentials\[\d+\]\.secret_access_key|backends\[\d+\]\.(?:secret_access_key|encryption\.(?:key|legacy_key)))$/;

/** True when the field at `path` (`backends[0].encryption.key`) holds a secret. */
export function isSecretField(path: string): boolean {
  return SECRET_FIELD.test(path);
}

/** One secret field present in a document, with its value (resolved or not: whatever the document holds). */
export interface SecretField {
  path: string;
  value: unknown;
}

/** The secret fields present in `document` (given, and not YAML's empty `null`), in document order. */
export function secretFields(document: unknown): SecretField[] {
  const found: SecretField[] = [];
  const visit = (node: unknown, path: string): void => {
    if (node === undefined || node === null) return;
    // A secret field is taken whole, whatever its value: a wrongly typed secret is still a secret.
    if (isSecretField(path)) found.push({ path, value: node });
    else if (Array.isArray(node)) node.forEach((item, i) => visit(item, `${path}[${i}]`));
    else if (typeof node === 'object') {
      for (const [name, value] of Object.entries(node)) visit(value, path ? `${path}.${name}` : name);
    }
  };
  visit(document, '');
  return found;
}

/** The paths of the secret fields present in `document`. */
export function secretFieldPaths(document: unknown): string[] {
  return secretFields(document).map((field) => field.path);
}
