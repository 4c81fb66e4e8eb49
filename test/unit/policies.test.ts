// The policies file (POLICIES_FILE): what a good one means (defaults, versions as text, the
// example under config/), every problem of a bad one named by its document or purpose, and a bad
// file refused at start, by loadConfig and by `npm start`, with that message; a bad file on
// reload leaves the policies in force as they were.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { resolvePolicies } from '../../src/policies/index.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TERMS = { id: 'terms', title: 'Terms of service', version: '1', url: 'https://legal.example/terms' };

const problemsOf = (input: unknown) => {
  const resolved = resolvePolicies(input);
  assert.ok('problems' in resolved, 'refused');
  return resolved.problems.map((p) => p.message);
};

function tempFile(name: string, content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'gatehouse-policies-')), name);
  writeFileSync(path, content);
  return path;
}

function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-config-')), ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('the policies file', () => {
  it('reads the example under config/, with documents mandatory and purposes not asked unless said', () => {
    const resolved = resolvePolicies(parse(readFileSync(join(ROOT, 'config/policies.example.yaml'), 'utf8')));
    assert.ok('policies' in resolved, JSON.stringify(resolved));
    const { documents, purposes } = resolved.policies;
    assert.deepEqual(
      documents.map((d) => [d.id, d.version, d.mandatory]),
      [
        ['terms', '2026-12-01', true],
        ['privacy', '3', true],
      ],
    );
    assert.deepEqual(
      purposes.map((p) => [p.id, p.ask_at_sign_in]),
      [
        ['marketing_email', true],
        ['analytics', false],
        ['partner_sharing', false],
      ],
    );
  });

  it('takes a version written as a number as text, and no file content as no policies', () => {
    const resolved = resolvePolicies({ documents: [{ ...TERMS, version: 2 }] });
    assert.ok('policies' in resolved);
    assert.equal(resolved.policies.documents[0].version, '2');
    assert.deepEqual(resolvePolicies(null), { policies: { documents: [], purposes: [] } });
  });

  it('names every problem by its document or purpose', () => {
    assert.deepEqual(problemsOf({ documents: [{ ...TERMS, url: 'ftp://legal.example/terms' }] }), [
      'document terms: url: must be an http or https URL',
    ]);
    assert.deepEqual(problemsOf({ documents: [{ ...TERMS, id: 'Terms' }] }), [
      'document Terms: id: must be lower case letters, digits and _ (starting with a letter), at most 63',
    ]);
    assert.deepEqual(problemsOf({ documents: [TERMS, { ...TERMS, version: '2' }] }), ['document terms: is declared twice']);
    assert.deepEqual(problemsOf({ purposes: [{ id: 'ads', label: 'Ads', version: '1 2' }] }), [
      'purpose ads: version: must be 1 to 40 letters, digits, dots, dashes or _ (such as "2026-12-01"), or a number',
    ]);
    assert.deepEqual(problemsOf({ purposes: [{ id: 'ads', label: { english: 'Ads' } }] }), [
      'purpose ads: label: must be a text of 1 to 1000 characters, or one per language such as { en: "…", fr: "…" }',
      'purpose ads: version: is required',
    ]);
    assert.deepEqual(problemsOf({ purposes: [{ id: 'ads', label: 'Ads', version: '1', pre_ticked: true }] }), [
      'purpose ads: Unrecognized key: "pre_ticked"',
    ]);
    assert.deepEqual(problemsOf({ documents: [{ ...TERMS, title: {}, mandatory: 'yes' }] }), [
      'document terms: title: must name at least one language',
      'document terms: mandatory: Invalid input: expected boolean, received string',
    ]);
    assert.deepEqual(problemsOf({ document: [TERMS] }), ['file: Unrecognized key: "document"']);
    assert.deepEqual(problemsOf([TERMS]), ['file: Invalid input: expected object, received array']);
  });

  it('stops loadConfig with the variable, the file and the problem', () => {
    const bad = tempFile(
      'policies.yaml',
      'documents:\n  - id: terms\n    title: Terms\n    version: "1"\n    url: ftp://legal.example/terms\n',
    );
    assert.deepEqual(configProblems({ POLICIES_FILE: bad }), [`POLICIES_FILE: ${bad}: document terms: url: must be an http or https URL`]);
    const missing = join(tmpdir(), 'gatehouse-no-such-dir', 'policies.yaml');
    assert.deepEqual(configProblems({ POLICIES_FILE: missing }), [`POLICIES_FILE: cannot read ${missing} (ENOENT)`]);
    const broken = tempFile('policies.yaml', 'documents: [\n');
    const [problem] = configProblems({ POLICIES_FILE: broken });
    assert.match(problem, new RegExp(`^POLICIES_FILE: ${broken.replaceAll('.', '\\.')} is not valid YAML: `));
  });

  it('stops `npm start` before anything else, printing the problem', () => {
    const bad = tempFile('policies.json', JSON.stringify({ documents: [TERMS, TERMS] }));
    const started = spawnSync(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-start-')), POLICIES_FILE: bad },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(started.status, 1, started.stderr);
    assert.equal(started.stderr, `Invalid configuration:\n  - POLICIES_FILE: ${bad}: document terms: is declared twice\n`);
  });

  it('keeps the policies in force when a reloaded file is bad', () => {
    const path = tempFile(
      'policies.yaml',
      `documents:\n  - id: terms\n    title: Terms\n    version: "1"\n    url: https://legal.example/terms\n`,
    );
    const config = loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-config-')), POLICIES_FILE: path });
    writeFileSync(path, `documents:\n  - id: terms\n    title: Terms\n    version: "2"\n    url: nowhere\n`);
    assert.deepEqual(config.declarations.reload(), [`POLICIES_FILE: ${path}: document terms: url: must be an http or https URL`]);
    assert.equal(config.declarations.current().policies.documents[0].version, '1');
    writeFileSync(path, `documents:\n  - id: terms\n    title: Terms\n    version: "2"\n    url: https://legal.example/terms\n`);
    assert.deepEqual(config.declarations.reload(), []);
    assert.equal(config.declarations.current().policies.documents[0].version, '2');
  });
});
