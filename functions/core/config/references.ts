/**
 * Secret references in a config document: values written as `${env:NAME}` (or `${env:NAME:-default}`),
 * `${secretsmanager:NAME}` (or `${secretsmanager:NAME#field}` for one field of a JSON secret) and
 * `${ssm:/path/to/param}`, resolved at run time so the secret itself is never stored in the document.
 * `$${` is a literal `${`. This file only reads and rewrites the syntax; resolving is the
 * {@link SecretResolver}'s job.
 */
import type { ConfigProblem } from './problems.js';

export type ReferenceScheme = 'env' | 'secretsmanager' | 'ssm';

export interface SecretReference {
  /** The reference as written, e.g. `${secretsmanager:sealgate/admin#secret}`: the cache key. */
  raw: string;
  scheme: ReferenceScheme;
  /** The variable (env), the secret's name or ARN (secretsmanager) or the parameter's name or ARN (ssm). */
  name: string;
  /** secretsmanager only: the JSON field after `#`. */
  field?: string;
  /** env only: the default after `:-`. */
  fallback?: string;
  /** Where it was found: `credentials[0].secret_access_key`. */
  path: string;
}

/**
 * One piece of a string value: literal text (each `$${` already turned into `${`), a reference, or a `${`
 * that starts no valid reference (it stands for the literal `${`; the text after it follows as more pieces).
 */
export type ValuePiece =
  | { kind: 'text'; text: string }
  | { kind: 'reference'; reference: SecretReference }
  | { kind: 'malformed'; message: string };

const LITERAL_HINT = '(write $${ for a literal ${)';

// The variable rule is the shell's, as `${env:...}` has always been. A secret's name or ARN and a parameter's
// name or ARN use the characters Secrets Manager and SSM allow; `:` also covers ARNs and SSM's `name:version`.
const ENV = /^env:([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;
const SECRETS_MANAGER = /^secretsmanager:([A-Za-z0-9/_+=.@:-]+)(?:#([\s\S]+))?$/;
const SSM = /^ssm:([A-Za-z0-9_./:-]+)$/;
const SCHEME_WORD = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * Splits a string value into text, references and malformed `${`. A reference ends at its first `}`; one
 * that meets a `$${` first is unterminated (the escape is read before any reference, as it always was).
 */
export function parseValue(value: string, path: string): ValuePiece[] {
  const pieces: ValuePiece[] = [];
  let text = '';
  let at = 0;
  while (at < value.length) {
    const dollar = value.indexOf('$', at);
    if (dollar === -1) {
      text += value.slice(at);
      break;
    }
    text += value.slice(at, dollar);
    if (value.startsWith('$${', dollar)) {
      text += '${';
      at = dollar + 3;
    } else if (value.startsWith('${', dollar)) {
      if (text) pieces.push({ kind: 'text', text });
      text = '';
      const read = readReference(value, dollar, path);
      if ('reference' in read) {
        pieces.push({ kind: 'reference', reference: read.reference });
        at = read.end;
      } else {
        pieces.push({ kind: 'malformed', message: read.problem });
        at = dollar + 2;
      }
    } else {
      text += '$';
      at = dollar + 1;
    }
  }
  if (text) pieces.push({ kind: 'text', text });
  return pieces;
}

/** The text a piece stands for, with `valueOf`'s value for a reference (or the reference as written). */
function render(piece: ValuePiece, valueOf: (reference: SecretReference) => string | undefined): string {
  if (piece.kind === 'text') return piece.text;
  if (piece.kind === 'malformed') return '${';
  return valueOf(piece.reference) ?? piece.reference.raw;
}

function readReference(
  value: string,
  start: number,
  path: string,
): { reference: SecretReference; end: number } | { problem: string } {
  const close = value.indexOf('}', start + 2);
  const escape = value.indexOf('$${', start + 2);
  if (close === -1 || (escape !== -1 && escape < close)) {
    const scheme = /^\$\{([A-Za-z][A-Za-z0-9_-]*):/.exec(value.slice(start))?.[1];
    const head = scheme === undefined ? '' : ` \${${scheme}:…`;
    return { problem: `unterminated reference${head}: a \${ needs its closing } ${LITERAL_HINT}` };
  }
  const raw = value.slice(start, close + 1);
  const body = value.slice(start + 2, close);
  const end = close + 1;

  let match = ENV.exec(body);
  if (match) {
    return {
      end,
      reference: withOptional({ raw, scheme: 'env', name: match[1], path }, 'fallback', match[2]),
    };
  }
  match = SECRETS_MANAGER.exec(body);
  if (match) {
    return {
      end,
      reference: withOptional({ raw, scheme: 'secretsmanager', name: match[1], path }, 'field', match[2]),
    };
  }
  match = SSM.exec(body);
  if (match) return { end, reference: { raw, scheme: 'ssm', name: match[1], path } };
  return { problem: whyMalformed(body) };
}

function withOptional(
  reference: SecretReference,
  key: 'field' | 'fallback',
  value: string | undefined,
): SecretReference {
  return value === undefined ? reference : { ...reference, [key]: value };
}

/** Why a `${...}` body is no reference: said per scheme, so a typo gets a precise answer. */
function whyMalformed(body: string): string {
  const colon = body.indexOf(':');
  const scheme = colon === -1 ? '' : body.slice(0, colon);
  const rest = body.slice(colon + 1);
  if (!SCHEME_WORD.test(scheme)) {
    return `malformed reference: expected \${scheme:name}, such as \${env:NAME} ${LITERAL_HINT}`;
  }
  const hashOnlyForSecrets = `#field picks a field of a JSON secret: only \${secretsmanager:NAME#field} has one`;
  switch (scheme) {
    case 'env':
      if (rest === '') return '${env:} names no variable';
      if (rest.includes('#')) return hashOnlyForSecrets;
      return (
        'malformed reference ${env:…}: expected ${env:NAME} or ${env:NAME:-default}, ' +
        'NAME being letters, digits and _, not starting with a digit'
      );
    case 'secretsmanager':
      if (rest === '' || rest.startsWith('#')) return '${secretsmanager:} names no secret';
      if (rest.endsWith('#')) return '${secretsmanager:…#} names no field after #';
      return 'malformed reference ${secretsmanager:…}: a secret name or ARN is letters, digits and /_+=.@:-';
    case 'ssm':
      if (rest === '') return '${ssm:} names no parameter';
      if (rest.includes('#')) return hashOnlyForSecrets;
      return 'malformed reference ${ssm:…}: a parameter name or ARN is letters, digits and _.-/ (and : before a version or label)';
    default:
      return `unknown reference scheme "${scheme.slice(0, 40)}": expected env, secretsmanager or ssm ${LITERAL_HINT}`;
  }
}

/** Calls `visit` with every string in a parsed document and its path (`backends[1].encryption.key`). */
function mapStrings(node: unknown, path: string, visit: (value: string, path: string) => string): unknown {
  if (typeof node === 'string') return visit(node, path);
  if (Array.isArray(node)) return node.map((item, i) => mapStrings(item, `${path}[${i}]`, visit));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [
        key,
        mapStrings(value, path ? `${path}.${key}` : key, visit),
      ]),
    );
  }
  return node;
}

/**
 * Every reference in a parsed config document, each with its path, and an error problem for every `${`
 * that starts no valid reference (`${vault:x}`, `${env:}`, a missing `}`). `$${` escapes are not references.
 */
export function findReferences(document: unknown): {
  references: SecretReference[];
  problems: ConfigProblem[];
} {
  const references: SecretReference[] = [];
  const problems: ConfigProblem[] = [];
  mapStrings(document, '', (value, path) => {
    if (!value.includes('${')) return value;
    for (const piece of parseValue(value, path)) {
      if (piece.kind === 'reference') references.push(piece.reference);
      if (piece.kind === 'malformed') problems.push({ severity: 'error', path, message: piece.message });
    }
    return value;
  });
  return { references, problems };
}

/**
 * A copy of the document with every reference replaced by `valueOf`'s value and every `$${` by `${`. A
 * reference whose `valueOf` is undefined is left as written. This is the last step before validation: the
 * result is plain values, not a document to read references from again (its escapes are gone).
 */
export function substituteReferences(
  document: unknown,
  valueOf: (reference: SecretReference) => string | undefined,
): unknown {
  return mapStrings(document, '', (value, path) =>
    value.includes('$')
      ? parseValue(value, path)
          .map((piece) => render(piece, valueOf))
          .join('')
      : value,
  );
}

/** True when the string holds at least one well-formed reference (a malformed `${` does not count). */
export function containsReference(value: string): boolean {
  return value.includes('${') && parseValue(value, '').some((piece) => piece.kind === 'reference');
}
