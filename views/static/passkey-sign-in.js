// Passkey sign-in on the login and mfa screens (src/interactions/methods/passkey.ts): asks the
// server for a challenge, runs the ceremony with SimpleWebAuthn, and posts the signed response
// as an ordinary form, so the server answers with the next page. On the login screen it also
// offers passkeys in the email field's autofill (conditional mediation) where the browser can.
(() => {
  const section = document.querySelector('[data-passkey-options]');
  const webauthn = window.SimpleWebAuthnBrowser;
  if (!section || !webauthn || !webauthn.browserSupportsWebAuthn()) return;
  // Tells the server this device can make a passkey, so that it may offer one after sign-in
  // (src/interactions/passkeyOffer). Nothing secret: it only decides whether to ask.
  webauthn.platformAuthenticatorIsAvailable().then((available) => {
    if (available) document.cookie = 'gatehouse.passkey_capable=1; path=/; max-age=3600; samesite=lax';
  });
  const form = section.querySelector('form');
  const button = section.querySelector('.passkey-start');
  const problem = section.querySelector('.passkey-problem');

  const say = (message) => {
    problem.textContent = message;
    problem.hidden = !message;
  };

  async function challenge() {
    const answer = await fetch(section.dataset.passkeyOptions, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: form.elements._csrf.value }),
    });
    if (answer.status === 429) throw new Error('Too many passkey attempts from here. Try again later.');
    if (!answer.ok) throw new Error('Passkey sign-in is not available right now. Reload the page and try again.');
    return answer.json();
  }

  async function signIn(useBrowserAutofill) {
    const optionsJSON = await challenge();
    const response = await webauthn.startAuthentication({ optionsJSON, useBrowserAutofill });
    form.elements.response.value = JSON.stringify(response);
    form.submit();
  }

  const explain = (error) => {
    // A newer ceremony (the button pressed during autofill) aborts the older one: nothing to say.
    if (error && error.name === 'AbortError') return;
    if (error && error.name === 'NotAllowedError') return say('The passkey request was cancelled or timed out. Try again.');
    say((error && error.message) || 'The passkey could not be used. Try again.');
  };

  button.hidden = false;
  button.addEventListener('click', () => {
    say('');
    signIn(false).catch(explain);
  });
  if ('passkeyAutofill' in section.dataset) {
    webauthn.browserSupportsWebAuthnAutofill().then((supported) => {
      if (supported) signIn(true).catch(() => {});
    });
  }
})();
