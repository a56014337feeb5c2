import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * Loads the app's entry files the way the Functions host does: from package.json `main`, which may be a glob
 * such as `dist/src/functions/*.js` or `dist/src/{index.js,functions/*.js}`. Returns the loaded files.
 */
export function loadFunctionApp(projectDir: string): string[] {
  const packageJson = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8')) as {
    main?: unknown;
  };
  if (typeof packageJson.main !== 'string' || packageJson.main === '') {
    throw new Error('package.json has no "main"; the Functions host loads the app from it.');
  }
  const files = expandGlob(projectDir, packageJson.main);
  if (files.length === 0) {
    throw new Error(`package.json main "${packageJson.main}" matches no file. Run "npm run build" first.`);
  }
  // The Functions host's Node worker loads the app's entry files with require, in this order.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  for (const file of files) require(file);
  return files.map((file) => relative(projectDir, file));
}

export function expandGlob(baseDir: string, pattern: string): string[] {
  const results = new Set<string>();
  for (const expanded of expandBraces(pattern)) {
    for (const file of matchSegments(
      resolve(baseDir),
      expanded.split('/').filter((s) => s !== '' && s !== '.'),
    )) {
      results.add(file);
    }
  }
  return [...results].sort();
}

function expandBraces(pattern: string): string[] {
  const match = /\{([^{}]*)\}/.exec(pattern);
  if (!match) return [pattern];
  const [whole, inner = ''] = match;
  return inner
    .split(',')
    .flatMap((option) =>
      expandBraces(pattern.slice(0, match.index) + option + pattern.slice(match.index + whole.length)),
    );
}

function matchSegments(dir: string, segments: readonly string[]): string[] {
  const [segment, ...rest] = segments;
  if (segment === undefined) return isFile(dir) ? [dir] : [];
  if (segment === '**') {
    const here = matchSegments(dir, rest);
    const deeper = listDir(dir)
      .filter((name) => isDirectory(join(dir, name)))
      .flatMap((name) => matchSegments(join(dir, name), segments));
    return [...here, ...deeper];
  }
  if (!segment.includes('*') && !segment.includes('?')) return matchSegments(join(dir, segment), rest);
  const regex = new RegExp(
    `^${segment
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')}$`,
  );
  return listDir(dir)
    .filter((name) => regex.test(name))
    .flatMap((name) => matchSegments(join(dir, name), rest));
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
