// `npm start` reads the profile schema again on SIGHUP, as an operator sends it: a good file is
// in force at once (discovery lists its scopes), a bad one is reported in the log and the
// previous schema stays, with the server still serving.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Resolves with everything printed once `pattern` matches what came after `from` characters. */
function printed(child: ChildProcess, output: { text: string }, pattern: RegExp, from: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const look = () => {
      if (pattern.test(output.text.slice(from))) {
        child.stdout?.off('data', look);
        resolve(output.text);
      }
    };
    child.stdout?.on('data', look);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output.text}`)));
    look();
  });
}

const schema = (scope: string) =>
  `attributes:\n  - name: loyalty_number\n    type: string\n    label: Loyalty number\n    scope: ${scope}\n`;

describe('SIGHUP', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-sighup-'));
  const schemaFile = join(dataDir, 'profile.yaml');
  let server: ChildProcess | undefined;

  after(() => {
    server?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('reloads the profile schema, and keeps the previous one when the new one is wrong', async () => {
    writeFileSync(schemaFile, schema('profile:shop'));
    const { DATABASE_URL, ...env } = process.env;
    server = spawn(process.execPath, ['src/main.ts'], {
      cwd: ROOT,
      env: {
        ...env,
        DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        NODE_ENV: 'development',
        ISSUER: '',
        PROFILE_SCHEMA_FILE: schemaFile,
      },
    });
    const output = { text: '' };
    server.stdout?.on('data', (chunk) => (output.text += chunk));
    const banner = await printed(server, output, /Gatehouse is running: http:\/\/localhost:\d+\n/, 0);
    const port = Number(/Gatehouse is running: http:\/\/localhost:(\d+)\n/.exec(banner)?.[1]);
    const scopes = async () =>
      ((await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json()) as { scopes_supported: string[] })
        .scopes_supported;
    assert.ok((await scopes()).includes('profile:shop'));

    writeFileSync(schemaFile, schema('profile:club'));
    let from = output.text.length;
    server.kill('SIGHUP');
    await printed(server, output, /"configuration files reloaded"/, from);
    assert.ok((await scopes()).includes('profile:club'));
    assert.ok(!(await scopes()).includes('profile:shop'));

    writeFileSync(schemaFile, schema('club'));
    from = output.text.length;
    server.kill('SIGHUP');
    const logged = await printed(server, output, /"configuration files not reloaded/, from);
    assert.match(logged.slice(from), /attribute loyalty_number: scope: must be namespaced as profile:<name>/);
    assert.ok((await scopes()).includes('profile:club'), 'the previous schema stays in force');
  });
});
