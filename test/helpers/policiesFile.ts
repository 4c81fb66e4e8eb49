// A policies file (POLICIES_FILE) of a test's own, written as YAML the way an operator edits
// config/: `publish` writes a new content and reloads it into the running server, as SIGHUP does.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TestServer } from './server.ts';

export interface PoliciesFile {
  path: string;
  write(content: unknown): void;
  /** Writes `content` and makes the server read it again; fails on any problem it reports. */
  publish(server: TestServer, content: unknown): void;
}

export function policiesFile(content: unknown): PoliciesFile {
  const path = join(mkdtempSync(join(tmpdir(), 'gatehouse-policies-')), 'policies.yaml');
  const write = (next: unknown) => writeFileSync(path, stringify(next));
  write(content);
  return {
    path,
    write,
    publish(server, next) {
      write(next);
      const problems = server.config.declarations.reload();
      if (problems.length) throw new Error(`The server refused the policies file: ${problems.join('; ')}`);
    },
  };
}
