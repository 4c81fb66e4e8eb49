// The relying party's side of a federated sign-in, for the federation tests: open Gatehouse's
// sign-in screen for an authorization request, leave by a connection's "Continue with …" button,
// and, once back from the provider, pass the consent screen and redeem the code.
import assert from 'node:assert/strict';
import type * as client from 'openid-client';
import { Browser, type Page } from './browserForm.ts';
import { RP_REDIRECT, authorizationRequest, exchangeCode, type AuthorizationRequest } from './relyingParty.ts';

/** Opens the sign-in screen and leaves for the connection's provider: the provider's page (or Gatehouse's answer). */
export async function leaveFor(rp: client.Configuration, connection: string, params: Record<string, string> = {}) {
  const browser = new Browser();
  const request = await authorizationRequest(rp, params);
  const login = await browser.navigate(request.url.toString(), {}, RP_REDIRECT);
  assert.match(login.html, new RegExp(`/upstream/${connection}/start"`), `the sign-in screen offers ${connection}`);
  const page = await browser.submit(login, new RegExp(`/upstream/${connection}/start$`), {}, RP_REDIRECT);
  return { browser, request, page };
}

/** Past the consent screen, when there is one: where the browser lands. */
export async function pastConsent(browser: Browser, page: Page): Promise<Page> {
  return page.html.includes('/consent"') ? browser.submit(page, /\/consent$/, { decision: 'allow' }, RP_REDIRECT) : page;
}

/**
 * On to the relying party, which redeems its code: the tokens. `why` says, when it did not get
 * there, what the server recorded (a refusal's reason).
 */
export async function toRelyingParty(
  rp: client.Configuration,
  browser: Browser,
  page: Page,
  request: AuthorizationRequest,
  why: () => Promise<unknown> = async () => '',
) {
  const landed = await pastConsent(browser, page);
  if (!landed.url.startsWith(RP_REDIRECT))
    assert.fail(`ended at ${landed.status} ${landed.url} (${await why()}): ${landed.html.slice(0, 800)}`);
  return exchangeCode(rp, landed.url, request);
}
