import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { S3Error } from '../../../functions/core/errors.js';
import { child, children, parseXml, xml, xmlEscape } from '../../../functions/core/xml.js';

describe('xml', () => {
  it('renders nested elements, repeats arrays and leaves out undefined fields', () => {
    const out = xml('R', { A: 'x<y', B: undefined, C: [{ D: 1 }, { D: 2 }], E: true });
    expect(out).toContain(
      '<R xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><A>x&lt;y</A><C><D>1</D></C><C><D>2</D></C><E>true</E></R>',
    );
  });
});

describe('parseXml', () => {
  it('reads a CompleteMultipartUpload document with a namespace and declaration', () => {
    const root = parseXml(
      '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<Part><ETag>"a&amp;b"</ETag><PartNumber>1</PartNumber></Part><Part><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>',
    );
    expect(root.name).toBe('CompleteMultipartUpload');
    const parts = children(root, 'Part');
    expect(parts).toHaveLength(2);
    expect(child(parts[0], 'ETag')?.text).toBe('"a&b"');
    expect(child(parts[1], 'PartNumber')?.text).toBe('2');
  });

  it.each([
    '<a><b></a>',
    '<a>',
    '<a></a><b></b>',
    '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
    '<a>&unknown;</a>',
    '',
  ])('rejects %j as MalformedXML', (source) => {
    expect(() => parseXml(source)).toThrow(S3Error);
    try {
      parseXml(source);
    } catch (error) {
      expect((error as S3Error).code).toBe('MalformedXML');
    }
  });

  it('round-trips any text through escape and parse', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(parseXml(`<k>${xmlEscape(text)}</k>`).text).toBe(text);
      }),
    );
  });

  it.each(['&#0;', '&#x1;', '&#xD800;', '&#xFFFE;', '&#1114112;', '&#x110000;', '&#99999999999;'])(
    'refuses the character reference %s, which names no XML character, as MalformedXML',
    (reference) => {
      expect(() => parseXml(`<Key>${reference}</Key>`)).toThrow(S3Error);
      expect(() => parseXml(`<Key>${reference}</Key>`)).toThrow(/not well-formed|malformed/i);
    },
  );

  it('decodes character references to the characters XML allows', () => {
    expect(parseXml('<Key>&#x9;&#65;&#x10FFFF;&#xE000;</Key>').text).toBe('\tA\u{10FFFF}\uE000');
  });
});
