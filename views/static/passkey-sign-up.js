// "Create account with a passkey" on the sign-up screen (src/interactions/login/signup.ts): sends
// the typed email for creation options, makes the passkey with SimpleWebAuthn and posts it as an
// ordinary form, so the server answers with the next page ("check your email").
(() => {
  const section = document.querySelector('[data-passkey-signup]');
  const webauthn = window.SimpleWebAuthnBrowser;
  if (!section || !webauthn || !webauthn.browserSupportsWebAuthn()) return;
  const form = section.querySelector('form');
  const button = section.querySelector('.passkey-signup-start');
  const problem = section.querySelector('.passkey-problem');
  const email = document.getElementById('email');

  const say = (message) => {
    problem.textContent = message;
    problem.hidden = !message;
  };

  async function create() {
    const answer = await fetch(section.dataset.passkeySignup, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: form.elements._csrf.value, email: email ? email.value : '' }),
    });
    if (!answer.ok) {
      const body = await answer.json().catch(() => ({}));
      throw new Error(body.error || 'A passkey account cannot be created right now. Use a password instead.');
    }
    const response = await webauthn.startRegistration({ optionsJSON: await answer.json() });
    form.elements.response.value = JSON.stringify(response);
    form.submit();
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
