/** Reading and writing a parsed config document by a field path, `credentials[0].secret_access_key`. */

function steps(path: string): (string | number)[] {
  return (path.match(/[^.[\]]+|\[\d+\]/g) ?? []).map((step) => {
    const index = /^\[(\d+)\]$/.exec(step);
    return index ? Number(index[1]) : step;
  });
}

/** The value at `path`, or undefined when the path leads nowhere. */
export function valueAt(tree: unknown, path: string): unknown {
  let node = tree;
  for (const step of steps(path)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[step];
  }
  return node;
}

/** Sets the value at an existing `path` in place (a no-op when the path leads nowhere). */
export function setValueAt(tree: unknown, path: string, value: unknown): void {
  const all = steps(path);
  const parent = valueAt(tree, pathOf(all.slice(0, -1)));
  if (parent === null || typeof parent !== 'object' || all.length === 0) return;
  (parent as Record<string | number, unknown>)[all[all.length - 1]] = value;
}

function pathOf(parts: (string | number)[]): string {
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
