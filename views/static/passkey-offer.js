// "Add a passkey" after sign-in (src/interactions/passkeyOffer): asks the server for creation
// options, makes the passkey with SimpleWebAuthn and posts it as an ordinary form, so the server
// answers with the next page.
(() => {
  const section = document.querySelector('[data-passkey-registration]');
  const webauthn = window.SimpleWebAuthnBrowser;
  if (!section || !webauthn || !webauthn.browserSupportsWebAuthn()) return;
  const form = section.querySelector('form');
  const button = section.querySelector('.passkey-create');
  const problem = section.querySelector('.passkey-problem');

  const say = (message) => {
    problem.textContent = message;
    problem.hidden = !message;
  };

  async function create() {
    const answer = await fetch(section.dataset.passkeyRegistration, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: form.elements._csrf.value }),
    });
    if (!answer.ok) throw new Error('A passkey cannot be added right now. Choose “Not now” and try later from your account.');
    const response = await webauthn.startRegistration({ optionsJSON: await answer.json() });
    form.elements.response.value = JSON.stringify(response);
    form.submit();
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
