// "Create account with a passkey" on the sign-up screen (src/interactions/login/signup.ts): sends
// the typed email for creation options, makes the passkey with SimpleWebAuthn and posts it; the
// server answers with "check your email".
(() => {
  const section = document.querySelector('[data-passkey-signup]');
  const passkeys = window.GatehousePasskeys;
  if (!section || !passkeys || !passkeys.supported()) return;
  const form = section.querySelector('form');
  const button = section.querySelector('.passkey-signup-start');
  const say = passkeys.alertIn(section);
  const email = document.getElementById('email');

  async function create() {
    const fields = { email: email ? email.value : '' };
    const optionsJSON = await passkeys.options(section.dataset.passkeySignup, form, fields, 'A passkey account cannot be created right now. Use a password instead.');
    passkeys.submit(form, await window.SimpleWebAuthnBrowser.startRegistration({ optionsJSON }));
  }

  section.hidden = false;
  button.addEventListener('click', () => {
    say('');
    create().catch((error) => {
      if (error && error.name === 'NotAllowedError') return say('The passkey was not made (cancelled or timed out). Try again.');
      say((error && error.message) || 'The passkey could not be made.');
    });
  });
})();
