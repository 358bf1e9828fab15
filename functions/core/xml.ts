import { errors } from './errors.js';

/** Escapes text for XML element content and attribute values. */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;',
  );
}

/** A value in an XML document built by {@link xml}: nested objects become elements, arrays repeat them. */
export type XmlValue = string | number | boolean | Date | undefined | XmlNode | XmlValue[];
export interface XmlNode {
  [element: string]: XmlValue;
}

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Renders an S3 response document: `xml('ListBucketResult', {...})`. Undefined fields are left out. */
export function xml(root: string, body: XmlNode): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NS}">${render(body)}</${root}>`;
}

function render(node: XmlNode): string {
  let out = '';
  for (const [name, value] of Object.entries(node)) out += renderElement(name, value);
  return out;
}

function renderElement(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => renderElement(name, v)).join('');
  if (value instanceof Date) return `<${name}>${value.toISOString()}</${name}>`;
  if (typeof value === 'object') return `<${name}>${render(value)}</${name}>`;
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}

/** A parsed element: its name, text content and child elements (namespaces and attributes are dropped). */
export interface XmlElement {
  name: string;
  text: string;
  children: XmlElement[];
}

/** The largest request document parsed (DeleteObjects of 1000 long keys fits well within it). */
export const MAX_XML_BYTES = 2 * 1024 * 1024;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML 1.0's Char production: what a character reference may name (no NUL, no surrogates, nothing past U+10FFFF). */
function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

function characterReference(digits: string, radix: number): string {
  const code = parseInt(digits, radix);
  if (!isXmlChar(code)) throw errors.malformedXML();
  return String.fromCodePoint(code);
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (_whole, ref: string) => {
    if (ref.startsWith('#x')) return characterReference(ref.slice(2), 16);
    if (ref.startsWith('#')) return characterReference(ref.slice(1), 10);
    const named = ENTITIES[ref];
    if (named === undefined) throw errors.malformedXML();
    return named;
  });
}

/**
 * Parses the small request documents S3 takes (CompleteMultipartUpload, Delete, CreateBucketConfiguration).
 * Rejects anything that is not well-formed with `MalformedXML`; DTDs are refused outright, so no entity
 * expansion can happen.
 */
export function parseXml(source: string): XmlElement {
  let pos = 0;
  const fail = (): never => {
    throw errors.malformedXML();
  };
  const skipMisc = () => {
    for (;;) {
      while (pos < source.length && /\s/.test(source[pos])) pos++;
      if (source.startsWith('<?', pos)) {
        const end = source.indexOf('?>', pos);
        if (end < 0) fail();
        pos = end + 2;
      } else if (source.startsWith('<!--', pos)) {
        const end = source.indexOf('-->', pos);
        if (end < 0) fail();
        pos = end + 3;
      } else if (source.startsWith('<!', pos)) {
        fail();
      } else return;
    }
  };
  const parseElement = (depth: number): XmlElement => {
    if (depth > 32 || source[pos] !== '<') fail();
    const tagEnd = source.indexOf('>', pos);
    if (tagEnd < 0) fail();
    const inner = source.slice(pos + 1, tagEnd);
    const selfClosing = inner.endsWith('/');
    const qname = /^[^\s/>]+/.exec(inner)?.[0] ?? fail();
    const name = qname.includes(':') ? qname.slice(qname.indexOf(':') + 1) : qname;
    pos = tagEnd + 1;
    const element: XmlElement = { name, text: '', children: [] };
    if (selfClosing) return element;
    for (;;) {
      const lt = source.indexOf('<', pos);
      if (lt < 0) fail();
      element.text += decodeEntities(source.slice(pos, lt));
      pos = lt;
      if (source.startsWith('</', pos)) {
        const close = source.indexOf('>', pos);
        if (close < 0 || source.slice(pos + 2, close).trim() !== qname) fail();
        pos = close + 1;
        return element;
      }
      if (source.startsWith('<![CDATA[', pos)) {
        const end = source.indexOf(']]>', pos);
        if (end < 0) fail();
        element.text += source.slice(pos + 9, end);
        pos = end + 3;
      } else if (source.startsWith('<!--', pos)) {
        const end = source.indexOf('-->', pos);
        if (end < 0) fail();
        pos = end + 3;
      } else {
        element.children.push(parseElement(depth + 1));
      }
    }
  };
  skipMisc();
  const root = parseElement(0);
  skipMisc();
  if (pos !== source.length) fail();
  return root;
}

/** The first child named `name`, if any. */
export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

/** Every child named `name`. */
export function children(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name);
}
