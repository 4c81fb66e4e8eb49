#!/usr/bin/env node
// Gatehouse runs on Node 24 (see package.json's pinned `node` devDependency). npm scripts and npx
// put that Node first on PATH; a bare call on an older Node gets a clear message, not a crash.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(
    `gatehouse needs Node.js 22.12 or newer (this is ${process.version}). Run it as "npm run cli -- ..." or "npx gatehouse ...".\n`,
  );
  process.exit(1);
}
await import('../src/cli/main.ts');
