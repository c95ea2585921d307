import { AppConfig, PRODUCTION_REQUIRED_FIELDS } from './app-config';

/** The JSDoc comment above each field of the AppConfig class (decorators between them), as plain text lines. */
function fieldDocs(source: string): Map<string, string[]> {
  const docs = new Map<string, string[]>();
  const body = source.slice(source.indexOf('export class AppConfig {'));
  let comment: string[] = [];
  let inComment = false;
  for (const line of body.split('\n')) {
    const trimmed = line.trim();
    if (trimmed.startsWith('/**')) {
      inComment = true;
      comment = [];
    }
    if (inComment) {
      const text = trimmed
        .replace(/^\/\*\*/, '')
        .replace(/\*\/$/, '')
        .replace(/^\*\s?/, '')
        .trim();
      if (text !== '') comment.push(text);
      if (trimmed.endsWith('*/')) inComment = false;
      continue;
    }
    const field = /^ {2}([A-Z][A-Z0-9_]*)[?!]?\s*[:=]/.exec(line);
    if (field) {
      docs.set(field[1], comment);
      comment = [];
    } else if (/^ {2}(get |[a-z])/.test(line) || trimmed === '}') comment = [];
  }
  return docs;
}

/** A default as the environment spells it (every default is a string, a number or a boolean; none is empty). */
export function envValue(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

/**
 * `.env.example`: every variable AppConfig reads, in its order, with its comment and its default (empty when it has
 * none: required in production, or optional). Generated from the class, so it cannot miss one; a unit test checks
 * the committed file against it (`npm run env:example` writes it).
 */
export function renderEnvExample(appConfigSource: string): string {
  const defaults = new AppConfig() as unknown as Record<string, unknown>;
  const docs = fieldDocs(appConfigSource);
  const required = new Set<string>(PRODUCTION_REQUIRED_FIELDS);
  const blocks = Object.keys(defaults).map((name) => {
    const value = defaults[name];
    const lines = (docs.get(name) ?? []).map((line) => `# ${line}`.trimEnd());
    if (required.has(name)) lines.push('# Required in production (development generates it, or embeds the database).');
    lines.push(`${name}=${envValue(value)}`);
    return lines.join('\n');
  });
  return (
    [
      '# Every setting of Fuli, with its default (empty: none; required in production when the comment says so).',
      '# Generated from src/config/app-config.ts by `npm run env:example`; an empty value counts as unset.',
      ...blocks,
    ].join('\n\n') + '\n'
  );
}
