import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  metadataValueForHeader,
  metadataValueFromHeader,
  wireText,
} from '../../functions/core/header-text.js';

/** A header value as an edge hands it to the core: each UTF-8 byte one character. */
const onTheWire = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

describe('header text', () => {
  it('reads the UTF-8 text of any header bytes that spell it', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (text) => wireText(onTheWire(text)) === text));
  });

  it('keeps bytes that are not UTF-8 as they came, one character each', () => {
    expect(wireText('caf\xe9')).toBe('caf\xe9');
  });

  it('answers any metadata text in a form that reads back as the same text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        fc.pre(!text.includes('=?'));
        const header = metadataValueForHeader(text);
        expect(/^[\x00-\x7f]*$/.test(header)).toBe(true);
        expect(metadataValueFromHeader(onTheWire(header))).toBe(text);
      }),
    );
  });

  it('encodes only what is not ASCII, as one RFC 2047 B encoded-word', () => {
    expect(metadataValueForHeader('plain')).toBe('plain');
    expect(metadataValueForHeader('é')).toBe('=?UTF-8?B?w6k=?=');
  });

  it('decodes encoded-words in B and Q, UTF-8 and ISO-8859-1, joining adjacent ones', () => {
    expect(metadataValueFromHeader('=?UTF-8?B?w6k=?= =?utf-8?q?_et_=C3=A0?=')).toBe('é et à');
    expect(metadataValueFromHeader('=?ISO-8859-1?Q?caf=E9?=')).toBe('café');
    expect(metadataValueFromHeader('a =?UTF-8?B?w6k=?= b')).toBe('a é b');
  });

  it('leaves what is not a well-formed encoded-word as text', () => {
    for (const value of [
      '=?UTF-8?B?not base64!?=',
      '=?KOI8-R?B?w6k=?=',
      '=?UTF-8?Q?bad=ZZ?=',
      '=?UTF-8?B?/w==?=',
    ]) {
      expect(metadataValueFromHeader(value)).toBe(value);
    }
  });
});
