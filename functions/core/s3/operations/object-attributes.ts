/**
 * GetObjectAttributes (`GET /bucket/key?attributes`): what HeadObject and ListParts would tell, chosen by
 * the `x-amz-object-attributes` header, over the object as clients see it: the plaintext size and the ETag
 * and checksums clients were given, never the stored ciphertext's. An SSE-C object needs its key, as for
 * GetObject. S3 lists an object's parts only when they carry additional checksums; the gateway keeps no
 * per-part checksums, so ObjectParts gives the parts' count.
 */
import { errors } from '../../errors.js';
import { CHECKSUM_ELEMENTS } from '../../integrity/checksums.js';
import { xml, type XmlNode } from '../../xml.js';
import { httpDate } from '../conditions.js';
import { routeFor, xmlResponse, type Operation } from '../operation.js';
import { openRequested, storedChecksum, validateKey } from './objects.js';

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
type Attribute = (typeof ATTRIBUTES)[number];

/** The attributes the request asks for; InvalidArgument for none, or for a name S3 does not know. */
function requestedAttributes(op: Operation): Set<Attribute> {
  const header = op.request.headers.get('x-amz-object-attributes') ?? '';
  const names = header
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) {
    throw errors.invalidArgument(
      'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty',
      'x-amz-object-attributes',
      header,
    );
  }
  for (const name of names) {
    if (!(ATTRIBUTES as readonly string[]).includes(name)) {
      throw errors.invalidArgument('Invalid attribute name specified.', 'x-amz-object-attributes', name);
    }
  }
  return new Set(names as Attribute[]);
}

/** A part-number header: an integer from `min`, absent as `fallback`. */
function partHeader(op: Operation, name: string, fallback: number, min: number): number {
  const raw = op.request.headers.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) {
    throw errors.invalidArgument(`${name} must be an integer of at least ${min}`, name, raw);
  }
  return Number(raw);
}

export async function getObjectAttributes(op: Operation): Promise<Response> {
  validateKey(op.key);
  const route = routeFor(op, 'read');
  const wanted = requestedAttributes(op);
  const maxParts = Math.min(partHeader(op, 'x-amz-max-parts', 1000, 0), 1000);
  const marker = partHeader(op, 'x-amz-part-number-marker', 0, 0);
  const opened = await openRequested(op, route);
  opened.dataKey?.fill(0);
  const view = opened.view;
  const body: XmlNode = {};
  if (wanted.has('ETag')) body.ETag = view.etag.replace(/^"|"$/g, '');
  const checksum = wanted.has('Checksum') ? storedChecksum(view) : undefined;
  if (checksum) {
    // A composite checksum without the `-<parts>` suffix HEAD shows, as S3 answers it here.
    body.Checksum = { [CHECKSUM_ELEMENTS[checksum.algorithm]]: checksum.value, ChecksumType: checksum.type };
  }
  if (wanted.has('ObjectParts') && view.partsCount !== undefined) {
    body.ObjectParts = {
      PartsCount: view.partsCount, // TotalPartsCount in the SDKs; PartsCount on the wire
      PartNumberMarker: marker || undefined,
      MaxParts: op.request.headers.has('x-amz-max-parts') ? maxParts : undefined,
      IsTruncated: false,
    };
  }
  if (wanted.has('StorageClass')) body.StorageClass = 'STANDARD';
  if (wanted.has('ObjectSize')) body.ObjectSize = view.size;
  return xmlResponse(xml('GetObjectAttributesResponse', body), 200, {
    'last-modified': httpDate(view.lastModified),
  });
}
