import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * The module map of docs/architecture.md, checked: dependencies between feature folders go one way. A folder
 * is a top-level folder of src/ (src/common is one: shared utilities); the files at the top of src/ are the
 * composition root, which may import anything and which nothing imports.
 */
const SRC = __dirname;
const ROOT = '(composition root)';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(name) && !/\.(spec|medium-spec)\.ts$/.test(name) ? [path] : [];
  });
}

function folderOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length === 1 ? ROOT : parts[0];
}

/** Folder → the folders its files import (type-only imports count: they are a dependency of the design too). */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = resolve(dirname(file), match[1]);
      if (!target.startsWith(SRC + sep)) continue;
      const to = folderOf(`${target}.ts`);
      if (to !== from && !edges.has(to)) edges.set(to, relative(SRC, file));
    }
  }
  return graph;
}

/** Strongly connected components with more than one folder (Tarjan): each is a loop of folders. */
function loops(graph: Map<string, Map<string, string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe('module map', () => {
  const graph = folderGraph();

  it('has no loops between feature folders', () => {
    const described = loops(graph).map((component) =>
      component
        .flatMap((from) =>
          [...(graph.get(from) ?? new Map<string, string>())]
            .filter(([to]) => component.includes(to))
            .map(([to, file]) => `${from} → ${to} (${file})`),
        )
        .join('; '),
    );
    expect(described).toEqual([]);
  });

  it('lets nothing import the composition root', () => {
    const importers = [...graph].filter(([from, edges]) => from !== ROOT && edges.has(ROOT)).map(([from]) => from);
    expect(importers).toEqual([]);
  });

  it('keeps shared utilities, config, the database layer and metrics free of feature folders', () => {
    const infrastructure = new Set(['common', 'config', 'database', 'metrics']);
    const features = new Set([...graph.keys()].filter((folder) => folder !== ROOT && !infrastructure.has(folder)));
    const offenders = [...graph]
      .filter(([from]) => infrastructure.has(from))
      .flatMap(([from, edges]) =>
        [...edges].filter(([to]) => features.has(to)).map(([to, file]) => `${from} → ${to} (${file})`),
      );
    expect(offenders).toEqual([]);
  });
});
