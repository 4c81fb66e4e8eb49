// Passkey sign-in on the login and mfa screens (src/interactions/methods/passkey.ts): asks the
// server for a challenge, runs the ceremony with SimpleWebAuthn and posts the signed response.
// On the login screen it also offers passkeys in the email field's autofill (conditional
// mediation) where the browser can.
(() => {
  const section = document.querySelector('[data-passkey-options]');
  const passkeys = window.GatehousePasskeys;
  if (!section || !passkeys || !passkeys.supported()) return;
  const webauthn = window.SimpleWebAuthnBrowser;
  // Tells the server this device can make a passkey, so that it may offer one after sign-in
  // (src/interactions/passkeyOffer). Nothing secret: it only decides whether to ask.
  webauthn.platformAuthenticatorIsAvailable().then((available) => {
    if (available) document.cookie = 'gatehouse.passkey_capable=1; path=/; max-age=3600; samesite=lax';
  });
  const form = section.querySelector('form');
  const button = section.querySelector('.passkey-start');
  const say = passkeys.alertIn(section);

  // Each ceremony replaces the one before (on the server too): one whose options arrive after a
  // newer one started (autofill, then a quick click) does not start at all.
  let latest = 0;
  async function signIn(useBrowserAutofill) {
    const mine = ++latest;
    const optionsJSON = await passkeys.options(section.dataset.passkeyOptions, form, {}, 'Passkey sign-in is not available right now. Reload the page and try again.');
    if (mine !== latest) return;
    passkeys.submit(form, await webauthn.startAuthentication({ optionsJSON, useBrowserAutofill }));
  }

  // Offers passkeys in the email field's autofill again (after a button ceremony ended without one).
  const autofill = () => {
    if (!('passkeyAutofill' in section.dataset)) return;
    webauthn.browserSupportsWebAuthnAutofill().then((supported) => {
      if (supported) signIn(true).catch(() => {});
    });
  };

  const explain = (error) => {
    // A newer ceremony (the button pressed during autofill) aborts the older one: nothing to say.
    if (error && error.name === 'AbortError') return;
    if (error && error.name === 'NotAllowedError') return say('The passkey request was cancelled or timed out. Try again.');
    say((error && error.message) || 'The passkey could not be used. Try again.');
  };

  button.hidden = false;
  button.addEventListener('click', () => {
    say('');
    signIn(false).catch((error) => {
      explain(error);
      if (!error || error.name !== 'AbortError') autofill();
    });
  });
  autofill();
})();
