/**
 * A structural diff of two config documents by field path (`backends[1].encryption.mode`), for
 * `sealgate config diff`: what applying a file would change in the running config. Secret fields never
 * show their values (see masking.ts); the values in a {@link DocumentDiff} are already masked, so no
 * caller can print a secret.
 */
import { isSecretField } from '../core/config/secret-fields.js';
import { FINGERPRINT, Masked, maskSecret, maskTree, pathJoin, SECRET_SHOWN } from './masking.js';

export type Change =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string; value: unknown }
  | { op: 'change'; path: string; old: unknown; new: unknown };

export interface DocumentDiff {
  changes: Change[];
  /**
   * Secret fields that could not be compared: written inline in the new document, while the old one (the
   * gateway's redacted answer) holds only a fingerprint of its value.
   */
  unverified: string[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Differences from `before` to `after`: added, removed and changed fields, in document order. */
export function diffDocuments(before: unknown, after: unknown): DocumentDiff {
  const diff: DocumentDiff = { changes: [], unverified: [] };
  walk(before, after, '', diff);
  return diff;
}

function walk(before: unknown, after: unknown, path: string, diff: DocumentDiff): void {
  if (path !== '' && isSecretField(path)) {
    compareSecret(before, after, path, diff);
    return;
  }
  if (isObject(before) && isObject(after)) {
    const keys = [...Object.keys(before), ...Object.keys(after).filter((key) => !Object.hasOwn(before, key))];
    for (const key of keys) {
      const child = pathJoin(path, key);
      if (!Object.hasOwn(after, key))
        diff.changes.push({ op: 'remove', path: child, value: maskTree(before[key], child) });
      else if (!Object.hasOwn(before, key))
        diff.changes.push({ op: 'add', path: child, value: maskTree(after[key], child) });
      else walk(before[key], after[key], child, diff);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      const child = `${path}[${i}]`;
      if (i >= after.length)
        diff.changes.push({ op: 'remove', path: child, value: maskTree(before[i], child) });
      else if (i >= before.length)
        diff.changes.push({ op: 'add', path: child, value: maskTree(after[i], child) });
      else walk(before[i], after[i], child, diff);
    }
    return;
  }
  if (!sameValue(before, after)) {
    diff.changes.push({ op: 'change', path, old: maskTree(before, path), new: maskTree(after, path) });
  }
}

function compareSecret(before: unknown, after: unknown, path: string, diff: DocumentDiff): void {
  const absent = (value: unknown) => value === undefined || value === null;
  if (sameValue(before, after)) return;
  if (absent(before)) {
    diff.changes.push({ op: 'add', path, value: maskSecret(after) });
    return;
  }
  if (absent(after)) {
    diff.changes.push({ op: 'remove', path, value: maskSecret(before) });
    return;
  }
  const inline = (value: unknown) => maskSecret(value).shown === SECRET_SHOWN;
  if (typeof before === 'string' && FINGERPRINT.test(before) && inline(after)) {
    // The gateway shows an inline secret only as a keyed fingerprint, which cannot be computed here.
    diff.unverified.push(path);
    return;
  }
  diff.changes.push({ op: 'change', path, old: maskSecret(before), new: maskSecret(after) });
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every((key) => Object.hasOwn(b, key) && sameValue(a[key], b[key]))
    );
  }
  return false;
}

/** A value as a diff line shows it: masked secrets as they are, strings quoted, structures as JSON. */
export function showValue(value: unknown): string {
  if (value instanceof Masked) return value.shown;
  if (value === undefined) return '(absent)';
  return JSON.stringify(value);
}

/** One change as a line: `+ path: value`, `- path: value` or `~ path: old -> new`. */
export function formatChange(change: Change): string {
  switch (change.op) {
    case 'add':
      return `+ ${change.path}: ${showValue(change.value)}`;
    case 'remove':
      return `- ${change.path}: ${showValue(change.value)}`;
    case 'change':
      return `~ ${change.path}: ${showValue(change.old)} -> ${showValue(change.new)}`;
  }
}
