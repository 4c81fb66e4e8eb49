// "Add a passkey" after sign-in (src/interactions/passkeyOffer): asks the server for creation
// options, makes the passkey with SimpleWebAuthn and posts it.
(() => {
  const section = document.querySelector('[data-passkey-registration]');
  const passkeys = window.GatehousePasskeys;
  if (!section || !passkeys || !passkeys.supported()) return;
  const form = section.querySelector('form');
  const button = section.querySelector('.passkey-create');
  const say = passkeys.alertIn(section);

  async function create() {
    const optionsJSON = await passkeys.options(section.dataset.passkeyRegistration, form, {}, 'A passkey cannot be added right now. Choose “Not now” and try later from your account.');
    passkeys.submit(form, await window.SimpleWebAuthnBrowser.startRegistration({ optionsJSON }));
  }

  button.hidden = false;
  button.addEventListener('click', () => {
    say('');
    create().catch((error) => {
      if (error && error.name === 'InvalidStateError') return say('This device already has a passkey for your account.');
      if (error && error.name === 'NotAllowedError') return say('The passkey was not added (cancelled or timed out). Try again, or choose “Not now”.');
      say((error && error.message) || 'The passkey could not be added.');
    });
  });
})();
