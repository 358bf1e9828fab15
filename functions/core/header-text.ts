/**
 * Non-ASCII text in HTTP headers. Both edges hand the core each header byte as one character (latin1, as
 * Node's HTTP server does), since `Headers` holds byte strings only; clients send UTF-8 bytes. S3 user
 * metadata values may hold any Unicode text: S3 takes them as UTF-8 or as RFC 2047 encoded-words
 * (`=?UTF-8?B?...?=`), and returns a non-ASCII value as an RFC 2047 encoded-word, which stays mail-safe
 * ASCII on the wire (S3 user guide, "Working with object metadata").
 */

const NON_ASCII = /[^\x00-\x7f]/;
/** One RFC 2047 encoded-word: charset, B or Q encoding, encoded text. */
const ENCODED_WORD = /=\?([A-Za-z0-9_-]+)\?([BbQq])\?([^?\s]*)\?=/g;

/**
 * The text a header value's bytes spell in UTF-8; a value that is not valid UTF-8 stays as its bytes
 * (one character each), so nothing is lost.
 */
export function wireText(value: string): string {
  if (!NON_ASCII.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return value;
  }
}

/** A user metadata value as the client meant it: its UTF-8 text, with RFC 2047 encoded-words decoded. */
export function metadataValueFromHeader(value: string): string {
  const text = wireText(value);
  if (!text.includes('=?')) return text;
  // Whitespace between two adjacent encoded-words is not part of the text (RFC 2047 section 6.2).
  return text
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(ENCODED_WORD, (word, charset: string, kind: string, data: string) => {
      const decoded = decodeWord(charset.toLowerCase(), kind.toUpperCase(), data);
      return decoded ?? word;
    });
}

/** A user metadata value for a response header: as is when ASCII, else one RFC 2047 B encoded-word. */
export function metadataValueForHeader(value: string): string {
  if (!NON_ASCII.test(value)) return value;
  return `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

function decodeWord(charset: string, kind: string, data: string): string | undefined {
  const encoding =
    charset === 'utf-8' || charset === 'utf8' ? 'utf8' : charset === 'iso-8859-1' ? 'latin1' : undefined;
  if (encoding === undefined) return undefined;
  let bytes: Buffer;
  if (kind === 'B') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return undefined;
    bytes = Buffer.from(data, 'base64');
  } else {
    const text = data.replace(/_/g, ' ');
    if (/=(?![0-9A-Fa-f]{2})/.test(text)) return undefined;
    bytes = Buffer.from(
      text.replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    );
  }
  if (encoding === 'latin1') return bytes.toString('latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
