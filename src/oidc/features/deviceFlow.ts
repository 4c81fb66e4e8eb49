// Device authorization grant (RFC 8628): the user-code entry, confirmation and success pages.
// The grant itself is oidc-provider's; `form` carries its own anti-CSRF field.
import type { Configuration } from 'oidc-provider';
import { renderPage } from '../../http/views.ts';

const USER_CODE_ERRORS: Record<string, string> = {
  NoCodeError: 'Enter the code shown on your device.',
  NotFoundError: 'That code was not recognised. Check it and try again.',
  ExpiredError: 'That code has expired. Start again on your device to get a new one.',
  AlreadyUsedError: 'That code was already used. Start again on your device to get a new one.',
  AbortedError: 'The sign-in on your device was cancelled.',
};

export function deviceFlow(): Configuration {
  return {
    features: {
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        async userCodeInputSource(ctx, form, _out, err) {
          ctx.type = 'html';
          ctx.set('Cache-Control', 'no-store');
          const message = err ? (USER_CODE_ERRORS[err.name] ?? 'Something went wrong. Try again.') : undefined;
          // The library's form carries an unlabeled input with an inline handler (blocked by our
          // CSP); we keep its action and anti-CSRF value and render an accessible form instead.
          const { action, xsrf, userCode } = readProviderForm(form);
          ctx.body = await renderPage('device-input', { title: 'Connect a device', action, xsrf, userCode, message });
        },
        async userCodeConfirmSource(ctx, form, client, _deviceInfo, userCode) {
          ctx.type = 'html';
          ctx.set('Cache-Control', 'no-store');
          ctx.body = await renderPage('device-confirm', {
            title: 'Confirm the device',
            form,
            clientName: client.clientName ?? client.clientId,
            userCode,
          });
        },
        async successSource(ctx) {
          ctx.type = 'html';
          ctx.set('Cache-Control', 'no-store');
          ctx.body = await renderPage('device-success', {
            title: 'Device connected',
            clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
          });
        },
      },
    },
  };
}

function readProviderForm(form: string) {
  const attribute = (pattern: RegExp) => decodeHtml(pattern.exec(form)?.[1] ?? '');
  return {
    action: attribute(/action="([^"]*)"/),
    xsrf: attribute(/name="xsrf" value="([^"]*)"/),
    userCode: attribute(/value="([^"]*)"[^>]*name="user_code"/),
  };
}

function decodeHtml(value: string) {
  return value.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}
