import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted (by UTF-16 code units, as RFC 8785 does) and no
 * whitespace, so equal values always give equal bytes and therefore equal hashes,
 * whatever order the keys were built in or Postgres' jsonb returns them in.
 *
 * Otherwise it follows JSON.stringify: toJSON() is honoured (Dates become ISO
 * strings), undefined/functions/symbols are dropped from objects and become null
 * in arrays, non-finite numbers become null. BigInts, which JSON.stringify
 * refuses, become decimal strings. Cycles throw.
 */
export function canonicalJson(value: unknown): string {
  return serialise(value, new Set()) ?? 'null';
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SHA-256 hex of the canonical JSON of `value`. */
export function digestOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/**
 * JSON text already in canonical form, built elsewhere (by SQL, for a record written inside a statement): spliced
 * verbatim. Whoever builds it answers for its being canonical (members sorted, no whitespace, JSON.stringify's
 * escapes); a record whose text was not is refused by the chain's verification, never accepted.
 */
export class CanonicalJsonText {
  constructor(readonly text: string) {}
}

function serialise(input: unknown, ancestors: Set<object>): string | undefined {
  if (input instanceof CanonicalJsonText) return input.text;
  const value = hasToJson(input) ? input.toJSON() : input;
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const object = value as object;
  if (ancestors.has(object)) throw new TypeError('canonicalJson: cyclic structure');
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      return `[${object.map((item: unknown) => serialise(item, ancestors) ?? 'null').join(',')}]`;
    }
    const record = object as Record<string, unknown>;
    const members: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const member = serialise(record[key], ancestors);
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${member}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    ancestors.delete(object);
  }
}

function hasToJson(value: unknown): value is { toJSON(): unknown } {
  return typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON === 'function';
}
