import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../functions/core/config/config-error.js';
import { parseConfigText, readConfigYaml } from '../../../functions/core/config/config-text.js';

describe('readConfigYaml', () => {
  it.each([
    ['a list holding itself', '&a [*a, *a]\n', /\[0\] holds a YAML alias to itself/],
    [
      'a mapping holding itself',
      'backends: &b\n  - x: *b\n',
      /backends\[0\]\.x holds a YAML alias to itself/,
    ],
  ])('refuses %s with a config error, not an endless tree', (_case, text, message) => {
    expect(() => readConfigYaml(text, 'sealgate.yaml')).toThrow(ConfigError);
    expect(() => readConfigYaml(text, 'sealgate.yaml')).toThrow(message);
  });

  it.each([
    ['a: !secret value\n', /Unresolved tag: !secret at line 1.*takes no YAML tags/],
    ['backends:\n  - !custom [1]\n', /Unresolved tag: !custom at line 2/],
  ])('refuses a YAML tag the config does not define (%j), rather than dropping it', (text, message) => {
    expect(() => readConfigYaml(text, 'sealgate.yaml')).toThrow(message);
  });

  it('refuses a document of more aliases than the parser allows (entity expansion)', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 12; i++)
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(', ')}]`,
      );
    expect(() => readConfigYaml(lines.join('\n'), 'sealgate.yaml')).toThrow(ConfigError);
  });

  it('keeps aliases that only repeat a node elsewhere', () => {
    const tree = readConfigYaml('a: &x { k: 1 }\nb: *x\n', 'sealgate.yaml') as Record<string, unknown>;
    expect(tree.b).toEqual({ k: 1 });
  });

  it('reports a syntax error by line without quoting the source line, which may hold a secret', () => {
    const text = 'credentials:\n  - secret_access_key: "s3cr3t-value\n    admin: true\n';
    let message = '';
    try {
      readConfigYaml(text, 'sealgate.yaml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/config error at sealgate\.yaml/);
    expect(message).not.toContain('s3cr3t-value');
  });

  it('makes a cyclic document a config error through parseConfigText too', () => {
    expect(() => parseConfigText('&a [*a]\n', {}, 'SEALGATE_CONFIG')).toThrow(ConfigError);
  });
});
