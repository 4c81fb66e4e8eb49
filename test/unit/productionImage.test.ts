// The container image installs production dependencies only (`npm ci --omit=dev`) and copies a
// fixed list of folders. This suite checks, without Docker (there is no engine on the machines
// that run it), that what the server loads at run time is in the image: a package imported by
// src/, bin/ or migrations/ but listed only under devDependencies would start fine here and
// crash in the container.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const RUNTIME_FOLDERS = ['src', 'bin', 'migrations'];

function sourceFiles(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Packages a file loads at run time: `import type` is erased by type stripping, so it does not count. */
function runtimePackages(source: string): string[] {
  const specifiers: string[] = [];
  const statements = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  const dynamic = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const pattern of [statements, dynamic]) for (const match of source.matchAll(pattern)) specifiers.push(match[1]);
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]));
}

describe('production image', () => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

  it('finds the imports it checks (the scan is not blind)', () => {
    const found = new Set(RUNTIME_FOLDERS.flatMap(sourceFiles).flatMap((file) => runtimePackages(readFileSync(file, 'utf8'))));
    for (const known of ['oidc-provider', 'koa', 'knex', '@koa/router']) assert.ok(found.has(known), `${known} not found by the scan`);
  });

  it('lists every package the server, CLI and migrations load under dependencies', () => {
    const missing: string[] = [];
    for (const file of RUNTIME_FOLDERS.flatMap(sourceFiles)) {
      for (const name of runtimePackages(readFileSync(file, 'utf8'))) {
        if (!(name in manifest.dependencies)) missing.push(`${file.slice(root.length + 1)} loads ${name}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('installs production dependencies only and copies every folder read at run time', () => {
    assert.match(dockerfile, /npm ci --omit=dev/);
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)].map((m) => m[1]);
    for (const folder of [...RUNTIME_FOLDERS, 'views']) assert.ok(copied.includes(folder), `the Dockerfile does not copy ${folder}/`);
    assert.match(dockerfile, /^USER (?!root)\S+/m, 'the image runs as a non-root user');
  });
});
