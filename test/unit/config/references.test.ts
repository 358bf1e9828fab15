import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interpolate } from '../../../functions/core/config/interpolate.js';
import {
  containsReference,
  findReferences,
  substituteReferences,
  type SecretReference,
} from '../../../functions/core/config/references.js';

/** The references found in one string value at `value`, with no problems expected. */
function referencesIn(text: string): SecretReference[] {
  const found = findReferences({ value: text });
  expect(found.problems).toEqual([]);
  return found.references;
}

/** The problem messages for one string value. */
function problemsIn(text: string): string[] {
  const found = findReferences({ value: text });
  expect(found.problems.every((p) => p.severity === 'error' && p.path === 'value')).toBe(true);
  return found.problems.map((p) => p.message);
}

describe('findReferences', () => {
  it('reads ${env:NAME} and ${env:NAME:-default}, an empty default included', () => {
    expect(referencesIn('${env:SEALGATE_KEY}')).toEqual([
      { raw: '${env:SEALGATE_KEY}', scheme: 'env', name: 'SEALGATE_KEY', path: 'value' },
    ]);
    expect(referencesIn('${env:PORT:-9000}')).toEqual([
      { raw: '${env:PORT:-9000}', scheme: 'env', name: 'PORT', fallback: '9000', path: 'value' },
    ]);
    expect(referencesIn('${env:EMPTY:-}')[0]?.fallback).toBe('');
  });

  it('reads ${secretsmanager:NAME}, an ARN, and #field of a JSON secret', () => {
    expect(referencesIn('${secretsmanager:sealgate/admin}')).toEqual([
      {
        raw: '${secretsmanager:sealgate/admin}',
        scheme: 'secretsmanager',
        name: 'sealgate/admin',
        path: 'value',
      },
    ]);
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:sealgate/admin-AbCdEf';
    expect(referencesIn(`\${secretsmanager:${arn}#secret}`)).toEqual([
      {
        raw: `\${secretsmanager:${arn}#secret}`,
        scheme: 'secretsmanager',
        name: arn,
        field: 'secret',
        path: 'value',
      },
    ]);
  });

  it('reads ${ssm:/path/to/param}, a parameter version and an ARN', () => {
    expect(referencesIn('${ssm:/sealgate/prod/key}')).toEqual([
      { raw: '${ssm:/sealgate/prod/key}', scheme: 'ssm', name: '/sealgate/prod/key', path: 'value' },
    ]);
    expect(referencesIn('${ssm:/sealgate/prod/key:3}')[0]?.name).toBe('/sealgate/prod/key:3');
    const arn = 'arn:aws:ssm:us-east-1:123456789012:parameter/sealgate/key';
    expect(referencesIn(`\${ssm:${arn}}`)[0]?.name).toBe(arn);
  });

  it('finds several references in one string, in order', () => {
    expect(
      referencesIn('${env:USER}:${secretsmanager:db#password}@${ssm:/db/host}').map((r) => [
        r.scheme,
        r.name,
      ]),
    ).toEqual([
      ['env', 'USER'],
      ['secretsmanager', 'db'],
      ['ssm', '/db/host'],
    ]);
  });

  it('gives each reference the path of its field, in objects and arrays', () => {
    const { references, problems } = findReferences({
      credentials: [{ access_key_id: 'AKIA', secret_access_key: '${secretsmanager:sealgate/admin#secret}' }],
      backends: [{}, { encryption: { key: '${ssm:/k}', legacy_key: '${env:OLD}' } }],
      port: 9000,
    });
    expect(problems).toEqual([]);
    expect(references.map((r) => [r.path, r.raw])).toEqual([
      ['credentials[0].secret_access_key', '${secretsmanager:sealgate/admin#secret}'],
      ['backends[1].encryption.key', '${ssm:/k}'],
      ['backends[1].encryption.legacy_key', '${env:OLD}'],
    ]);
  });

  it('does not read $${ escapes as references', () => {
    expect(referencesIn('a$${env:X}')).toEqual([]);
    expect(referencesIn('$${vault:x} and ${env:Y}').map((r) => r.raw)).toEqual(['${env:Y}']);
  });

  it('reports an unknown scheme such as ${vault:x}, with the way to write a literal ${', () => {
    expect(problemsIn('${vault:x}')).toEqual([
      'unknown reference scheme "vault": expected env, secretsmanager or ssm (write $${ for a literal ${)',
    ]);
  });

  it('reports a reference that names nothing', () => {
    expect(problemsIn('${env:}')).toEqual(['${env:} names no variable']);
    expect(problemsIn('${secretsmanager:}')).toEqual(['${secretsmanager:} names no secret']);
    expect(problemsIn('${secretsmanager:x#}')).toEqual(['${secretsmanager:…#} names no field after #']);
    expect(problemsIn('${ssm:}')).toEqual(['${ssm:} names no parameter']);
  });

  it('reports malformed names, a #field outside secretsmanager, a missing scheme and a missing }', () => {
    expect(problemsIn('${env:1ST}')[0]).toMatch(/^malformed reference \$\{env:…\}: expected \$\{env:NAME\}/);
    expect(problemsIn('${env:A:x}')[0]).toMatch(/^malformed reference \$\{env:…\}/);
    expect(problemsIn('${secretsmanager:has space}')[0]).toMatch(
      /^malformed reference \$\{secretsmanager:…\}/,
    );
    expect(problemsIn('${ssm:/a b}')[0]).toMatch(/^malformed reference \$\{ssm:…\}/);
    expect(problemsIn('${ssm:/a#b}')).toEqual([
      '#field picks a field of a JSON secret: only ${secretsmanager:NAME#field} has one',
    ]);
    expect(problemsIn('${SEALGATE_KEY}')).toEqual([
      'malformed reference: expected ${scheme:name}, such as ${env:NAME} (write $${ for a literal ${)',
    ]);
    expect(problemsIn('key ${env:X')).toEqual([
      'unterminated reference ${env:…: a ${ needs its closing } (write $${ for a literal ${)',
    ]);
  });

  it('reports every malformed reference at its own path, and still finds the good ones', () => {
    const { references, problems } = findReferences({
      credentials: [{ secret_access_key: '${vault:x}' }],
      backends: [{ encryption: { key: '${env:} ${env:GOOD}' } }],
    });
    expect(problems.map((p) => [p.severity, p.path])).toEqual([
      ['error', 'credentials[0].secret_access_key'],
      ['error', 'backends[0].encryption.key'],
    ]);
    expect(references.map((r) => r.raw)).toEqual(['${env:GOOD}']);
  });

  it('reads the text after an unterminated ${ again, so a reference inside it is still found', () => {
    const { references, problems } = findReferences({ value: '${env:A ${env:B}' });
    expect(problems).toHaveLength(1);
    expect(references.map((r) => r.raw)).toEqual(['${env:B}']);
  });

  it('finds no reference in text escaped by doubling each ${ (property)', () => {
    const text = fc.string({ unit: fc.constantFrom('$', '{', '}', ':', '#', 'e', 'n', 'v', 'a', '-', ' ') });
    fc.assert(
      fc.property(text, (literal) => {
        // A function, since `$$` in a replacement string means one `$`.
        const written = literal.replaceAll('${', () => '$${');
        const found = findReferences({ value: written });
        expect(found).toEqual({ references: [], problems: [] });
        expect(substituteReferences({ value: written }, () => 'x')).toEqual({ value: literal });
      }),
    );
  });
});

describe('substituteReferences', () => {
  const values: Record<string, string> = {
    '${env:USER}': 'alice',
    '${secretsmanager:db#password}': 'pa$${w}rd',
    '${ssm:/db/host}': 'db.internal',
  };

  it('replaces every reference, in a new tree, leaving the document and its other values as they were', () => {
    const document = {
      url: '${env:USER}:${secretsmanager:db#password}@${ssm:/db/host}',
      list: ['${env:USER}', 42, true, null],
    };
    const before = structuredClone(document);
    expect(substituteReferences(document, (r) => values[r.raw])).toEqual({
      url: 'alice:pa$${w}rd@db.internal',
      list: ['alice', 42, true, null],
    });
    expect(document).toEqual(before);
  });

  it('leaves a reference whose value is undefined as written', () => {
    expect(substituteReferences({ a: 'x-${ssm:/unknown}-y' }, () => undefined)).toEqual({
      a: 'x-${ssm:/unknown}-y',
    });
  });

  it('turns $${ into ${ and leaves a malformed ${ as written', () => {
    expect(substituteReferences({ a: 'a$${env:USER} ${vault:x}' }, (r) => values[r.raw])).toEqual({
      a: 'a${env:USER} ${vault:x}',
    });
  });

  it('gives valueOf each reference with its path', () => {
    const seen: string[] = [];
    substituteReferences({ backends: [{ key: '${env:K}' }] }, (r) => {
      seen.push(`${r.path} ${r.name}`);
      return 'v';
    });
    expect(seen).toEqual(['backends[0].key K']);
  });

  it('puts each generated reference’s value in its place among literal text (property)', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/);
    const reference = fc.oneof(
      name.map((n) => `\${env:${n}}`),
      fc.tuple(name, fc.stringMatching(/^[^}$]{0,6}$/)).map(([n, d]) => `\${env:${n}:-${d}}`),
      fc
        .tuple(fc.stringMatching(/^[A-Za-z0-9/_+=.@-]{1,12}$/), fc.option(name))
        .map(([n, f]) => `\${secretsmanager:${n}${f === null ? '' : `#${f}`}}`),
      fc.stringMatching(/^\/[A-Za-z0-9_./-]{1,12}$/).map((n) => `\${ssm:${n}}`),
    );
    // A literal `$` just before a reference would make `$${`: the syntax has no way to write that.
    const literal = fc.stringMatching(/^[^$]{0,6}$/);
    const segment = fc.oneof(
      reference.map((raw) => ({ raw })),
      literal.map((text) => ({ text })),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), (segments) => {
        const written = segments.map((s) => ('raw' in s ? s.raw : s.text)).join('');
        const expected = segments.map((s) => ('raw' in s ? `<${s.raw.length}>` : s.text)).join('');
        const found = findReferences({ value: written });
        expect(found.problems).toEqual([]);
        expect(found.references.map((r) => r.raw)).toEqual(
          segments.flatMap((s) => ('raw' in s ? [s.raw] : [])),
        );
        expect(substituteReferences({ value: written }, (r) => `<${r.raw.length}>`)).toEqual({
          value: expected,
        });
      }),
    );
  });
});

describe('containsReference', () => {
  it('is true for a string with a well-formed reference of any scheme', () => {
    expect(containsReference('${env:X}')).toBe(true);
    expect(containsReference('prefix ${secretsmanager:a#b} suffix')).toBe(true);
    expect(containsReference('${ssm:/p}')).toBe(true);
  });
  it('is false for plain text, escapes and malformed references', () => {
    expect(containsReference('plain')).toBe(false);
    expect(containsReference('$${env:X}')).toBe(false);
    expect(containsReference('${vault:x}')).toBe(false);
    expect(containsReference('${env:}')).toBe(false);
  });
});

describe('interpolate, now read with the references parser', () => {
  it('leaves ${secretsmanager:...}, ${ssm:...} and malformed ${ as written, as it always did', () => {
    expect(interpolate('${secretsmanager:a#b} ${ssm:/p} ${vault:x} ${env:}', {}, 'x')).toBe(
      '${secretsmanager:a#b} ${ssm:/p} ${vault:x} ${env:}',
    );
  });
  it('still replaces ${env:...} next to them', () => {
    expect(interpolate('${env:A}/${ssm:/p}/${env:B:-b}', { A: 'a' }, 'x')).toBe('a/${ssm:/p}/b');
  });
});
