// Serves the few files under views/static (stylesheet, browser scripts) and the SimpleWebAuthn
// browser bundle from its package (so it is the exact version installed, never a copy that
// drifts). The set is read once at start, so a request can only ever name one of them: no path
// traversal to worry about.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, extname, join } from 'node:path';
import type { Context, Next } from 'koa';

const STATIC_DIR = fileURLToPath(new URL('../../views/static/', import.meta.url));
const TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Exposes `window.SimpleWebAuthnBrowser` (startRegistration, startAuthentication, …). */
export const WEBAUTHN_BROWSER_PATH = '/static/simplewebauthn-browser.js';

/** The scripts a page with a passkey ceremony loads, in order: the library, what ours share, the page's own. */
export const passkeyScripts = (pageScript: string) => [WEBAUTHN_BROWSER_PATH, '/static/passkey-ceremony.js', pageScript];
// The package exports only its module entry (script/index.js); the bundle sits beside it.
const webauthnBundle = () =>
  join(dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')), '../dist/bundle/index.umd.min.js');

export function staticFiles() {
  const files = new Map(readdirSync(STATIC_DIR).map((name) => [`/static/${name}`, readFileSync(join(STATIC_DIR, name))]));
  files.set(WEBAUTHN_BROWSER_PATH, readFileSync(webauthnBundle()));
  return async (ctx: Context, next: Next) => {
    const file = (ctx.method === 'GET' || ctx.method === 'HEAD') && files.get(ctx.path);
    if (!file) return next();
    ctx.type = TYPES[extname(ctx.path)] ?? 'application/octet-stream';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = file;
  };
}
