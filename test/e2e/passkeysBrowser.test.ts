// Passkeys in a real browser: Debian's Chromium (playwright-core) with the DevTools virtual
// authenticator as the person's device (a platform authenticator that verifies the user and keeps
// discoverable credentials), against the real server and a real relying party (openid-client).
// Driven through the hosted screens by their labels and button names: "Add a passkey" offered
// after a password sign-in, then "Sign in with a passkey" alone after signing out; passkey
// autofill on the email field; a passkey removed from the account refused on the sign-in screen;
// a passkey as the second step a browser the account does not know is asked for; "Not now" on
// the offer, which is not made again meanwhile. Each test asserts what the person sees, what the
// relying party gets (the ID token's sub, amr and acr) and that no page's CSP refused anything.
//
// Passkey autofill (conditional mediation), as found here (Chromium 156, headless): with the
// virtual environment's UI disabled (WebAuthn.enable {enableUI:false}) Chromium sends a conditional
// request straight to the virtual authenticator and, being automated, picks its first credential
// for the RP itself (ChromeAuthenticatorRequestDelegate::SelectAccount). So a sign-in screen whose
// autofill finds a credential signs in as soon as it loads, with nothing focused, clicked or
// typed: the autofill test completes the page's own conditional request that way. What it cannot
// show is the person picking the passkey from the autofill list: with the UI enabled the request
// waits for that list, which a test cannot open or choose from in headless Chromium (focus,
// ArrowDown and Enter only submit the form), and a modal request waits for a dialog nobody can
// press. With the authenticator empty, Chromium rejects the conditional request at once
// (NotAllowedError, which the page ignores), so a screen stays put.
// Hence the tests that click "Sign in with a passkey" run as a browser without passkey autofill
// (PublicKeyCredential.isConditionalMediationAvailable() answers false, as where it is missing),
// where the button is the page's only passkey path; and the mfa test puts the credential into the
// authenticator only once the password screen is behind it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createClient, operator } from '../helpers/fixtures.ts';
import {
  type AuthorizationRequest,
  RP_LOGOUT_REDIRECT,
  RP_REDIRECT,
  authorizationRequest,
  discover,
  exchangeCode,
} from '../helpers/relyingParty.ts';
import { browserUnavailable, launchChromium, type RelyingPartyPage, relyingPartyPage } from '../helpers/chromium.ts';
import { createUser, type User } from '../../src/accounts/index.ts';
import { ACR } from '../../src/mfa/levels.ts';
import { listPasskeys, removePasskey } from '../../src/mfa/passkeys.ts';

const skip = browserUnavailable();
const PASSWORD = 'a long and unguessable passphrase';
const SIGN_IN_TITLE = 'Sign in · Gatehouse';

/** The person's device: a platform authenticator with discoverable credentials that verifies the user. */
const DEVICE = {
  protocol: 'ctap2',
  transport: 'internal',
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
  // Bound to this device, not synced (no backup flags): SimpleWebAuthn calls it singleDevice, amr "hwk".
  defaultBackupEligibility: false,
  defaultBackupState: false,
} as const;

// Code that runs in the page is given as text: this project's types have no DOM.

/** Reports every WebAuthn request the page's scripts make (to the console), and passes it on unchanged. */
const REPORT_CEREMONIES = `{
  const get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = (options) => {
    const email = document.getElementById('email');
    console.debug('webauthn-get ' + JSON.stringify({
      mediation: (options && options.mediation) || null,
      page: document.title,
      emailAutocomplete: email && email.getAttribute('autocomplete'),
    }));
    return get(options);
  };
}`;

/** A browser without passkey autofill: the sign-in screen's script then starts no conditional request. */
const WITHOUT_AUTOFILL = `Object.defineProperty(PublicKeyCredential, 'isConditionalMediationAvailable', { value: () => Promise.resolve(false) });`;

/**
 * Settles once the sign-in screen's script has said this device can make a passkey (its cookie),
 * waiting on the Cookie Store's change events rather than polling.
 */
const CAPABLE_COOKIE_SET = `new Promise((resolve, reject) => {
  const said = () => document.cookie.split('; ').includes('gatehouse.passkey_capable=1');
  if (said()) return resolve(true);
  cookieStore.addEventListener('change', () => { if (said()) resolve(true); });
  setTimeout(() => reject(new Error('the sign-in screen never said this device can make a passkey')), 30000);
})`;

interface Ceremony {
  mediation: string | null;
  page: string;
  emailAutocomplete: string | null;
}

async function credentialsOf(cdp: CDPSession, authenticatorId: string) {
  return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
}
type VirtualCredential = Awaited<ReturnType<typeof credentialsOf>>[number];

interface Chromium extends RelyingPartyPage {
  /** The WebAuthn requests the page's scripts made, in order. */
  ceremonies: Ceremony[];
  /** The paths the page posted to, in order. */
  posts: string[];
  /** What the virtual authenticator holds. */
  credentials(): Promise<VirtualCredential[]>;
  /** Puts a credential (one made in another browser) into this browser's authenticator. */
  addCredential(credential: VirtualCredential): Promise<void>;
  dispose(): Promise<void>;
}

/** A fresh Chromium profile with a virtual authenticator attached to its one page. */
async function openChromium(options: { autofill?: boolean } = {}): Promise<Chromium> {
  const browser: BrowserContext & { dispose(): Promise<void> } = await launchChromium();
  try {
    const rp = await relyingPartyPage(browser, RP_REDIRECT);
    const { page } = rp;
    await page.route(`${RP_LOGOUT_REDIRECT}**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed out' }));
    const ceremonies: Ceremony[] = [];
    const posts: string[] = [];
    page.on('console', (message) => {
      if (message.text().startsWith('webauthn-get ')) ceremonies.push(JSON.parse(message.text().slice('webauthn-get '.length)));
    });
    page.on('request', (request) => {
      if (request.method() === 'POST') posts.push(new URL(request.url()).pathname);
    });
    await page.addInitScript(REPORT_CEREMONIES);
    if (options.autofill === false) await page.addInitScript(WITHOUT_AUTOFILL);
    const cdp = await browser.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: DEVICE });
    return {
      ...rp,
      ceremonies,
      posts,
      credentials: () => credentialsOf(cdp, authenticatorId),
      addCredential: async (credential) => {
        await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
      },
      dispose: () => browser.dispose(),
    };
  } catch (error) {
    await browser.dispose();
    throw error;
  }
}

/** The ID token's claims, as the relying party reads them. */
interface SignedIn {
  sub: string;
  amr?: string[];
  acr?: string;
}

describe('passkeys in Chromium with a virtual authenticator', { skip }, () => {
  let database: TestDatabase;
  let server: TestServer;
  let config: client.Configuration;
  let users = 0;

  before(async () => {
    database = await createTestDatabase();
    server = await startTestServer(database);
    const app = await createClient(database, server.config, { name: 'Shop' });
    config = await discover(server.issuer, app.client_id, app.client_secret);
  });

  after(async () => {
    await server?.close();
    await database?.dispose();
  });

  async function newUser(): Promise<User> {
    users += 1;
    return createUser(operator(database), { email: `browser-passkey-${users}@example.com`, password: PASSWORD, email_verified: true }, 4);
  }

  /** The relying party sends the browser to sign in (consent asked every time, so every sign-in ends the same way). */
  async function startSignIn(chromium: Chromium) {
    const request = await authorizationRequest(config, { prompt: 'consent' });
    await chromium.page.goto(request.url.toString());
    assert.equal(await chromium.page.title(), SIGN_IN_TITLE);
    return request;
  }

  async function typePassword(page: Page, user: User) {
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  /** "Allow" on the consent screen, then the relying party's redirect. */
  async function allowAccess(chromium: Chromium) {
    await chromium.page.getByRole('heading', { name: 'Allow access' }).waitFor();
    await chromium.page.getByRole('button', { name: 'Allow', exact: true }).click();
    await chromium.page.waitForURL(`${RP_REDIRECT}**`);
  }

  /** The relying party redeems the code it was sent back with. */
  async function redeem(chromium: Chromium, request: AuthorizationRequest) {
    const tokens = await exchangeCode(config, chromium.callback(), request);
    return { idToken: tokens.id_token as string, claims: tokens.claims() as unknown as SignedIn };
  }

  /** A first sign-in with the password on a capable browser, adding a passkey when offered. */
  async function signInAndAddPasskey(chromium: Chromium, user: User) {
    const request = await startSignIn(chromium);
    await chromium.page.evaluate(CAPABLE_COOKIE_SET);
    await typePassword(chromium.page, user);
    await chromium.page.getByRole('heading', { name: 'Add a passkey' }).waitFor();
    await chromium.page.getByRole('button', { name: 'Add a passkey' }).click();
    await allowAccess(chromium);
    return redeem(chromium, request);
  }

  /** RP-initiated logout through the end_session endpoint; the authenticator keeps its credential. */
  async function signOut(chromium: Chromium, idToken: string) {
    const state = client.randomState();
    const logout = client.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: RP_LOGOUT_REDIRECT, state });
    await chromium.page.goto(logout.toString());
    await chromium.page.getByRole('heading', { name: 'Sign out' }).waitFor();
    await chromium.page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await chromium.page.waitForURL(`${RP_LOGOUT_REDIRECT}**`);
    assert.equal(new URL(chromium.page.url()).searchParams.get('state'), state);
  }

  it('adds a passkey when offered after the password, then signs in with the passkey alone', async () => {
    const user = await newUser();
    const chromium = await openChromium({ autofill: false });
    try {
      const { page } = chromium;
      const first = await startSignIn(chromium);
      assert.equal(await page.getByLabel('Email').getAttribute('autocomplete'), 'username webauthn');
      await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
      await page.evaluate(CAPABLE_COOKIE_SET);
      await typePassword(page, user);

      await page.getByRole('heading', { name: 'Add a passkey' }).waitFor();
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await allowAccess(chromium);
      const withPassword = await redeem(chromium, first);
      assert.equal(withPassword.claims.sub, user.id);
      assert.deepEqual(withPassword.claims.amr, ['pwd']);
      assert.equal(withPassword.claims.acr, ACR.singleFactor);

      // The device made a discoverable credential for this site that names the account...
      const held = await chromium.credentials();
      assert.equal(held.length, 1);
      assert.equal(held[0].isResidentCredential, true);
      assert.equal(held[0].rpId, 'localhost');
      assert.equal(Buffer.from(held[0].userHandle ?? '', 'base64').toString('utf8'), user.id);
      // ...and the account holds it.
      const stored = await listPasskeys(database.db, user.id);
      assert.equal(stored.length, 1);
      assert.equal(stored[0].credentialId, Buffer.from(held[0].credentialId, 'base64').toString('base64url'));
      assert.equal(stored[0].deviceType, 'singleDevice');

      await signOut(chromium, withPassword.idToken);
      const second = await startSignIn(chromium);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await allowAccess(chromium);
      const withPasskey = await redeem(chromium, second);
      assert.equal(withPasskey.claims.sub, user.id);
      // A passkey the device unlocked with the person's PIN or biometric: two factors in one (src/mfa/levels.ts).
      assert.deepEqual(withPasskey.claims.amr, ['hwk', 'user', 'mfa']);
      assert.equal(withPasskey.claims.acr, ACR.phishingResistant);
      // One passkey request, from the button (not the autofill's conditional mediation).
      assert.deepEqual(chromium.ceremonies, [{ mediation: null, page: SIGN_IN_TITLE, emailAutocomplete: 'username webauthn' }]);
      assert.notEqual((await listPasskeys(database.db, user.id))[0].lastUsedAt, null);
      assert.deepEqual(chromium.violations, []);
    } finally {
      await chromium.dispose();
    }
  });

  it('signs in from the passkey autofill of the email field (conditional mediation), with no click', async () => {
    const user = await newUser();
    const chromium = await openChromium();
    try {
      const { page } = chromium;
      // The first sign-in: the authenticator is still empty, so the autofill finds nothing.
      const enrolled = await signInAndAddPasskey(chromium, user);
      await signOut(chromium, enrolled.idToken);
      chromium.ceremonies.length = 0;
      chromium.posts.length = 0;

      const request = await authorizationRequest(config, { prompt: 'consent' });
      // Nothing is focused, clicked or typed (see the top of this file): the page's conditional
      // request is answered by the authenticator, and the sign-in screen posts the passkey itself.
      await page.goto(request.url.toString(), { waitUntil: 'commit' });
      await allowAccess(chromium);
      const signedIn = await redeem(chromium, request);
      assert.equal(signedIn.claims.sub, user.id);
      assert.deepEqual(signedIn.claims.amr, ['hwk', 'user', 'mfa']);
      assert.equal(signedIn.claims.acr, ACR.phishingResistant);

      assert.deepEqual(chromium.ceremonies, [{ mediation: 'conditional', page: SIGN_IN_TITLE, emailAutocomplete: 'username webauthn' }]);
      // The sign-in screen asked for one challenge and posted the signed answer; then consent.
      const uid = (/^\/interaction\/([^/]+)\/passkey\/options$/.exec(chromium.posts[0]) ?? [])[1];
      assert.ok(uid, `the sign-in screen asked for a challenge first: ${chromium.posts.join(', ')}`);
      assert.equal(chromium.posts.length, 3, chromium.posts.join(', '));
      assert.deepEqual(chromium.posts.slice(0, 2), [`/interaction/${uid}/passkey/options`, `/interaction/${uid}/passkey`]);
      assert.match(chromium.posts[2], /^\/interaction\/[^/]+\/consent$/);
      assert.deepEqual(chromium.violations, []);
    } finally {
      await chromium.dispose();
    }
  });

  it('refuses a passkey removed from the account, on the sign-in screen, and the relying party gets nothing', async () => {
    const user = await newUser();
    const chromium = await openChromium({ autofill: false });
    try {
      const { page } = chromium;
      const enrolled = await signInAndAddPasskey(chromium, user);
      await signOut(chromium, enrolled.idToken);
      const [passkey] = await listPasskeys(database.db, user.id);
      await removePasskey(operator(database), user.id, passkey.id);
      assert.equal((await chromium.credentials()).length, 1, 'the device still holds it');
      const landedBefore = chromium.callback();

      const request = await startSignIn(chromium);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.equal(await alert.textContent(), 'This passkey is not registered here. Try again, or use another way to sign in.');
      assert.equal(await page.title(), SIGN_IN_TITLE);
      assert.equal(new URL(page.url()).origin, server.issuer);
      assert.equal(chromium.callback(), landedBefore, 'the relying party got nothing');
      assert.deepEqual(await listPasskeys(database.db, user.id), []);

      // Another way to sign in still works on the same screen.
      await typePassword(page, user);
      await allowAccess(chromium);
      const signedIn = await redeem(chromium, request);
      assert.equal(signedIn.claims.sub, user.id);
      assert.deepEqual(signedIn.claims.amr, ['pwd']);
      assert.deepEqual(chromium.violations, []);
    } finally {
      await chromium.dispose();
    }
  });

  it('asks a browser the account does not know for a second step, and the passkey is one', async () => {
    const user = await newUser();
    let credential: VirtualCredential;
    const home = await openChromium();
    try {
      await signInAndAddPasskey(home, user);
      [credential] = await home.credentials();
      assert.deepEqual(home.violations, []);
    } finally {
      await home.dispose();
    }

    // Another browser profile: no session, not remembered. Its authenticator is empty until the
    // password is behind it (the sign-in screen's autofill would otherwise use the passkey at once).
    const away = await openChromium();
    try {
      const { page } = away;
      const request = await startSignIn(away);
      await typePassword(page, user);
      await page.getByRole('heading', { name: 'Confirm it is you' }).waitFor();
      await page.getByText('You are signing in from a browser we do not recognise, so we ask for your second step.').waitFor();
      await away.addCredential(credential);
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await allowAccess(away);
      const signedIn = await redeem(away, request);
      assert.equal(signedIn.claims.sub, user.id);
      assert.deepEqual(signedIn.claims.amr, ['pwd', 'hwk', 'user', 'mfa']);
      assert.equal(signedIn.claims.acr, ACR.phishingResistant);
      // The second step's request was the button's (the sign-in screen's autofill may or may not
      // have asked the then empty authenticator before the password was sent).
      assert.deepEqual(
        away.ceremonies.filter((ceremony) => ceremony.page !== SIGN_IN_TITLE),
        [{ mediation: null, page: 'Confirm it is you · Gatehouse', emailAutocomplete: null }],
      );
      assert.deepEqual(away.violations, []);
    } finally {
      await away.dispose();
    }
  });

  it('"Not now" goes on to the relying party, and the next sign-in is not offered a passkey again', async () => {
    const user = await newUser();
    const chromium = await openChromium();
    try {
      const { page } = chromium;
      const request = await startSignIn(chromium);
      await page.evaluate(CAPABLE_COOKIE_SET);
      await typePassword(page, user);
      await page.getByRole('heading', { name: 'Add a passkey' }).waitFor();
      await page.getByRole('button', { name: 'Not now' }).click();
      await allowAccess(chromium);
      const signedIn = await redeem(chromium, request);
      assert.equal(signedIn.claims.sub, user.id);
      assert.deepEqual(signedIn.claims.amr, ['pwd']);
      assert.deepEqual(await chromium.credentials(), []);
      assert.deepEqual(await listPasskeys(database.db, user.id), []);
      assert.deepEqual(chromium.violations, []);
    } finally {
      await chromium.dispose();
    }

    // Another capable browser, signed out: the offer would be due but for the snooze.
    const next = await openChromium();
    try {
      const { page } = next;
      const request = await startSignIn(next);
      await page.evaluate(CAPABLE_COOKIE_SET);
      await typePassword(page, user);
      const offer = page.getByRole('heading', { name: 'Add a passkey' });
      const consent = page.getByRole('heading', { name: 'Allow access' });
      await offer.or(consent).waitFor();
      assert.equal(await offer.isVisible(), false, 'not offered again');
      await allowAccess(next);
      assert.equal((await redeem(next, request)).claims.sub, user.id);
      const row = await database.db('users').where('id', user.id).first('passkey_offer_snoozed_until');
      assert.ok(new Date(row.passkey_offer_snoozed_until).getTime() > Date.now() + 29 * 24 * 3600 * 1000, 'put off for 30 days');
      assert.deepEqual(next.violations, []);
    } finally {
      await next.dispose();
    }
  });
});
