// Steps through the hosted account screens (sign in, create account, check your email, forgot
// password, emailed links) the way a person with a browser does, for the self-service tests.
import type * as client from 'openid-client';
import { decode, type Browser, type Page } from './browserForm.ts';
import { RP_REDIRECT, authorizationRequest, exchangeCode, type AuthorizationRequest } from './relyingParty.ts';

/** The uid of the interaction a page belongs to. */
export function interactionUid(url: string): string {
  const found = /\/interaction\/([^/?#]+)/.exec(url);
  if (!found) throw new Error(`Not an interaction page: ${url}`);
  return found[1];
}

/** The page's heading (its <h1>), unescaped. */
export function heading(html: string): string {
  return decode(/<h1 id="page-title">([\s\S]*?)<\/h1>/.exec(html)?.[1]?.trim() ?? '');
}

/**
 * The relying party sends the browser to the authorization endpoint; returns the screen shown
 * (sign-in, usually), or the redirect to the relying party when a session answered at once.
 */
export async function openSignIn(browser: Browser, config: client.Configuration, params: Record<string, string> = {}) {
  const request = await authorizationRequest(config, params);
  const page = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
  return { request, page };
}

/** The href of the link whose text is `text` (exactly), or undefined. */
export function linkHref(html: string, text: string): string | undefined {
  for (const match of html.matchAll(/<a\b[^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/g)) {
    if (decode(match[2].trim()) === text) return decode(match[1]);
  }
  return undefined;
}

/** Follows the link whose text is `text` on `page`. */
export function followLink(browser: Browser, page: Page, text: string): Promise<Page> {
  const href = linkHref(page.html, text);
  if (!href) throw new Error(`No link "${text}" on ${page.url}:\n${page.html.slice(0, 2000)}`);
  return browser.navigate(new URL(href, page.url).toString());
}

/**
 * After the sign-in: allows the consent screen if there is one, lands at the relying party's
 * redirect and redeems the code there. Returns the tokens.
 */
export async function finishAtRelyingParty(browser: Browser, page: Page, config: client.Configuration, request: AuthorizationRequest) {
  let landed = page;
  if (!landed.url.startsWith(RP_REDIRECT)) {
    if (!/\/consent"/.test(landed.html))
      throw new Error(`Expected the consent screen, got ${landed.status} ${landed.url}:\n${landed.html.slice(0, 2000)}`);
    landed = await browser.submit(landed, /\/consent$/, { decision: 'allow' }, RP_REDIRECT);
  }
  if (!landed.url.startsWith(RP_REDIRECT)) throw new Error(`Did not reach the relying party: ${landed.status} ${landed.url}`);
  return exchangeCode(config, landed.url, request);
}

/**
 * A page as it would look to anyone: without the CSRF token, the interaction uid and the
 * given values (the email typed), so two answers can be compared for what they reveal.
 */
export function comparable(html: string, ...values: string[]): string {
  let out = html
    .replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value="CSRF"')
    .replace(/\/interaction\/[A-Za-z0-9_-]+/g, '/interaction/UID');
  for (const value of values) out = out.replaceAll(value, 'VALUE');
  return out;
}

/**
 * Waits until `probe` returns something truthy (what the server does after answering, such as a
 * mail delivery pass); fails after `timeoutMs`, saying what it waited for. Not a timing
 * assertion: the deadline only keeps a broken run from hanging.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
