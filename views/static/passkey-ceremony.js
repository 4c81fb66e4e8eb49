// What every passkey script on the hosted screens shares (passkey-sign-in.js, passkey-offer.js,
// passkey-sign-up.js, loaded after this one): asking the server for a ceremony's options with the
// form's CSRF token, posting the authenticator's answer as an ordinary form (so the server
// answers with the next page), and saying what went wrong in the section's alert.
window.GatehousePasskeys = {
  /** Whether this browser can run a ceremony at all (the SimpleWebAuthn bundle loaded first). */
  supported() {
    return Boolean(window.SimpleWebAuthnBrowser && window.SimpleWebAuthnBrowser.browserSupportsWebAuthn());
  },

  /** A function that shows `message` in the section's alert, or hides it when empty. */
  alertIn(section) {
    const problem = section.querySelector('.passkey-problem');
    return (message) => {
      problem.textContent = message;
      problem.hidden = !message;
    };
  },

  /** The ceremony's options from `url`; a failure becomes an Error with the server's words or `fallback`. */
  async options(url, form, fields, fallback) {
    const answer = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: form.elements._csrf.value, ...fields }),
    });
    if (!answer.ok) {
      const body = await answer.json().catch(() => ({}));
      throw new Error(body.error || fallback);
    }
    return answer.json();
  },

  /** Posts the authenticator's answer in the form's `response` field. */
  submit(form, response) {
    form.elements.response.value = JSON.stringify(response);
    form.submit();
  },
};
