/**
 * The canonical forms AWS signatures are computed over. AWS's URI encoding keeps A-Z a-z 0-9 - . _ ~ and
 * percent-encodes every other byte in upper-case hex; the path also keeps '/'.
 */
import { wireText } from '../header-text.js';

export interface QueryParam {
  /** Name and value as sent, still percent-encoded. */
  rawName: string;
  rawValue: string;
  /** Decoded, for looking parameters up. */
  name: string;
  value: string;
}

export function parseQuery(rawQuery: string): QueryParam[] {
  const params: QueryParam[] = [];
  for (const pair of rawQuery.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    params.push({
      rawName,
      rawValue,
      name: percentDecode(rawName, false).toString('utf8'),
      value: percentDecode(rawValue, false).toString('utf8'),
    });
  }
  return params;
}

export function canonicalQuery(params: QueryParam[], plusIsSpace: boolean): string {
  return params
    .map((p) => [
      uriEncode(percentDecode(p.rawName, plusIsSpace), false),
      uriEncode(percentDecode(p.rawValue, plusIsSpace), false),
    ])
    .sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

export function canonicalPath(rawPath: string): string {
  return uriEncode(percentDecode(rawPath || '/', false), true);
}

export function canonicalHeaders(request: Request, signedHeaders: string[]): string {
  return signedHeaders
    .map((name) => {
      // Web Headers join repeated headers with ", "; SigV4 wants their values in one line too.
      let value = request.headers.get(name);
      if (value === null && name === 'host') value = new URL(request.url).host;
      // The client signed the text its UTF-8 bytes spell; the core holds each byte as one character.
      return `${name}:${wireText(value ?? '')
        .trim()
        .replace(/[ \t]+/g, ' ')}\n`;
    })
    .join('');
}

const HEX = '0123456789ABCDEF';

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x7e // ~
  );
}

export function uriEncode(bytes: Buffer, keepSlash: boolean): string {
  let out = '';
  for (const byte of bytes) {
    if (isUnreserved(byte) || (keepSlash && byte === 0x2f)) out += String.fromCharCode(byte);
    else out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/** Percent-decodes to bytes (not UTF-8 text, so any byte sequence survives); a stray '%' stays literal. */
export function percentDecode(text: string, plusIsSpace: boolean): Buffer {
  const input = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(input.length);
  let n = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i];
    if (byte === 0x25 && i + 2 < input.length && isHex(input[i + 1]) && isHex(input[i + 2])) {
      out[n++] = parseInt(String.fromCharCode(input[i + 1], input[i + 2]), 16);
      i += 2;
    } else if (byte === 0x2b && plusIsSpace) {
      out[n++] = 0x20;
    } else {
      out[n++] = byte;
    }
  }
  return out.subarray(0, n);
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
}

export function unique(values: string[]): string[] {
  return [...new Set(values)];
}
