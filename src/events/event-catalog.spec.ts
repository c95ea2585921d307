import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_CATALOG, EVENT_TYPES, isEventType } from './event-catalog';

describe('the event catalog', () => {
  it('is what the README documents, type for type', () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Webhooks'), readme.indexOf('## API conventions'));
    const documented = [...section.matchAll(/^\| `([a-z_.]+)` +\|/gm)].map((match) => match[1]);
    expect(documented).toEqual(EVENT_TYPES);
  });

  it('knows its own types and nothing else', () => {
    for (const type of EVENT_TYPES) expect(isEventType(type)).toBe(true);
    expect(isEventType('order.teleported')).toBe(false);
    expect(isEventType('toString')).toBe(false);
    expect(Object.values(EVENT_CATALOG).every((description) => description.length > 10)).toBe(true);
  });
});
