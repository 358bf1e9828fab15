/**
 * The suite-wide leak scan: every secret a test gives the gateway (credentials' secret keys, proxy keys,
 * SSE-C customer keys) is registered here, and everything the gateway logged or answered in this test file
 * (log lines of the test gateways, response headers, the bodies of error and XML/JSON answers, admin
 * answers, CLI output) is captured here. `leak-scan-setup.ts` checks, after every test file, that no
 * captured text holds any registered secret, in any of the forms a leak would take (as given, hex, base64,
 * base64url). Object bodies are not captured: they are the clients' own data.
 */
const secrets = new Map<string, string>();
const captured: { where: string; text: string }[] = [];

/** The forms a secret may leak in: as written, and its bytes in hex, base64 and base64url. */
function formsOf(value: string | Buffer): string[] {
  const forms = new Set<string>();
  if (typeof value === 'string') forms.add(value);
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  // A hex-written key leaks as its bytes too.
  if (typeof value === 'string' && /^[0-9a-fA-F]{32,}$/.test(value) && value.length % 2 === 0) {
    const raw = Buffer.from(value, 'hex');
    forms.add(raw.toString('base64'));
    forms.add(raw.toString('base64url'));
  }
  if (typeof value === 'string' && /^[A-Za-z0-9+/]{40,}={0,2}$/.test(value)) {
    // A base64-written key (SSE-C's header) leaks as hex too.
    const raw = Buffer.from(value, 'base64');
    if (raw.length >= 16) forms.add(raw.toString('hex'));
  }
  forms.add(bytes.toString('hex'));
  forms.add(bytes.toString('base64').replace(/=+$/, ''));
  forms.add(bytes.toString('base64url'));
  return [...forms].filter((form) => form.length >= 16);
}

/** Registers a secret (at least 16 characters or bytes: shorter test values are not worth scanning for). */
export function registerSecret(name: string, value: string | Buffer | undefined): void {
  if (value === undefined) return;
  for (const form of formsOf(value)) secrets.set(form, name);
}

/** Keeps text the gateway produced, to be scanned at the end of the file. */
export function capture(where: string, text: string | Buffer | undefined): void {
  if (text === undefined || text.length === 0) return;
  captured.push({ where, text: typeof text === 'string' ? text : text.toString('latin1') });
}

/** Response headers as one text. */
export function headersText(headers: Record<string, unknown>): string {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`)
    .join('\n');
}

/** Whether a response body is the gateway's own words (errors, XML and JSON documents), not object data. */
export function isGatewayDocument(status: number, contentType: string | undefined): boolean {
  return status >= 300 || /xml|json/.test(contentType ?? '');
}

export interface Leak {
  secret: string;
  where: string;
  excerpt: string;
}

/** Every captured text that holds a registered secret, then forgets what was captured. */
export function findLeaks(): { leaks: Leak[]; scanned: number; secrets: number } {
  const leaks: Leak[] = [];
  for (const { where, text } of captured) {
    for (const [form, name] of secrets) {
      const at = text.indexOf(form);
      if (at >= 0) {
        leaks.push({
          secret: name,
          where,
          excerpt: text.slice(Math.max(0, at - 60), at).replace(/\s+/g, ' '),
        });
      }
    }
  }
  const scanned = captured.length;
  captured.length = 0;
  return { leaks, scanned, secrets: secrets.size };
}

/**
 * Registers the secrets a config's text holds in line: keys (`key:`, `legacy_key:`) and credentials'
 * secret keys written as values (references such as `${env:...}` are not secrets themselves).
 */
export function registerConfigSecrets(text: string): void {
  for (const match of text.matchAll(
    /(?:^|[\s{,])(key|legacy_key|secret_access_key)\s*:\s*["']?([^"'\s,}]+)/gm,
  )) {
    if (!match[2].startsWith('${')) registerSecret(`config ${match[1]}`, match[2]);
  }
}
