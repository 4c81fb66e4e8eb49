// "Add a passkey" on the account area's Security page: asks the server for creation options,
// lets the browser create the passkey (SimpleWebAuthn's browser bundle, loaded before this
// script), and sends the result back. A 401 answer carries where to sign in again first.
(() => {
  const box = document.querySelector('[data-passkey-add]');
  const webauthn = window.SimpleWebAuthnBrowser;
  if (!box || !webauthn) return;
  const start = box.querySelector('[data-passkey-start]');
  const status = box.querySelector('[data-passkey-status]');
  const name = box.querySelector('input[name="name"]');

  if (!webauthn.browserSupportsWebAuthn()) {
    status.textContent = 'This browser cannot create passkeys.';
    start.disabled = true;
    return;
  }

  const post = (url, body) =>
    fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': box.dataset.csrf },
      body: JSON.stringify(body),
    });

  /** The answer's JSON; undefined when the browser is on its way to sign in again. */
  async function read(response) {
    const body = await response.json().catch(() => ({}));
    if (response.status === 401 && body.sign_in) {
      window.location.assign(body.sign_in);
      return undefined;
    }
    if (!response.ok) throw new Error(body.detail || body.title || 'Something went wrong. Try again.');
    return body;
  }

  /** The first second factor comes with recovery codes, made by a form post and shown once. */
  function showRecoveryCodes(action) {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = action;
    for (const [field, value] of [['_csrf', box.dataset.csrf], ['after', 'passkey']]) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = field;
      input.value = value;
      form.append(input);
    }
    document.body.append(form);
    form.submit();
  }

  async function addPasskey() {
    start.disabled = true;
    status.textContent = 'Follow the instructions of your browser or device.';
    try {
      const created = await read(await post(box.dataset.options, {}));
      if (!created) return;
      const response = await webauthn.startRegistration({ optionsJSON: created.options });
      const added = await read(await post(box.dataset.register, { response, name: name.value }));
      if (!added) return;
      if (added.recoveryCodes) showRecoveryCodes(added.recoveryCodes);
      else window.location.assign(added.next);
    } catch (error) {
      status.textContent =
        error.name === 'NotAllowedError' ? 'No passkey was created (it was cancelled or timed out).' : error.message;
      start.disabled = false;
    }
  }

  start.addEventListener('click', addPasskey);
})();
