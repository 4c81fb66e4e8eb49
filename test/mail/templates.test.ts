// Every mail template renders: a subject, a text part and an HTML part inside the one layout,
// every link it was given shown (in the HTML also as text), and data escaped in the HTML only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAIL_TEMPLATE_NAMES, MailDataError, renderMail, type MailTemplate } from '../../src/mail/index.ts';

const link = (name: string) => `https://id.example.com/${name}?token=t0k3n-${name}&step=2`;
const TRICKY = '<b>Kim & "Lee"</b>';
const TRICKY_EMAIL = 'kim+<x>@example.com'; // not an address: the escaping case is in names

const SAMPLES: Record<MailTemplate, Record<string, unknown>> = {
  verify_email: { link: link('verify'), code: '048213', expiresMinutes: 15 },
  registration_attempt: { signInLink: link('signin'), resetLink: link('reset') },
  password_reset: { link: link('reset'), expiresMinutes: 30 },
  password_changed: { resetLink: link('reset') },
  invitation: { link: link('invite'), expiresDays: 7, name: TRICKY, clientName: TRICKY },
  email_change_confirm: { link: link('confirm'), code: '771204', expiresMinutes: 60, newEmail: 'new.kim@example.com' },
  email_change_notice: { newEmail: 'new.kim@example.com' },
  account_locked: { resetLink: link('reset'), unlockMinutes: 15 },
  recovery_code_used: { remaining: 3, resetLink: link('reset') },
};

const links = (data: Record<string, unknown>) =>
  Object.values(data).filter((v): v is string => typeof v === 'string' && v.startsWith('https://'));
const htmlEscaped = (value: string) =>
  value.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&#34;');

describe('mail templates', () => {
  for (const name of MAIL_TEMPLATE_NAMES) {
    it(`renders ${name}`, async () => {
      const data = SAMPLES[name];
      const mail = await renderMail(name, data);
      assert.ok(mail.subject.length > 5);
      assert.match(mail.html, /^<!DOCTYPE html>\n<html lang="en">/);
      assert.ok(mail.html.includes(`<title>${mail.subject}</title>`) && mail.html.includes(`<h1 `), 'the layout wraps the body');
      assert.ok(mail.text.startsWith(`Gatehouse\n\n${mail.subject}\n\n`), 'the text layout wraps the body');
      assert.ok(mail.html.includes('Gatehouse') && mail.text.includes('Gatehouse'));
      assert.doesNotMatch(mail.text, /<%|%>|undefined|\[object/);
      assert.doesNotMatch(mail.html, /<%|%>|undefined|\[object/);
      for (const url of links(data)) {
        assert.ok(mail.text.includes(url), `${url} in the text as it is`);
        assert.ok(mail.html.includes(`href="${htmlEscaped(url)}"`), `${url} linked in the HTML`);
        assert.ok(mail.html.includes(`>${htmlEscaped(url)}</a>`), `${url} shown as text in the HTML`);
      }
      for (const value of Object.values(data))
        if (typeof value === 'string' && !value.startsWith('https://')) assert.ok(mail.text.includes(value));
    });
  }

  it('escapes data in the HTML, and only there', async () => {
    const mail = await renderMail('invitation', SAMPLES.invitation);
    assert.ok(!mail.html.includes(TRICKY), 'no markup from the data');
    assert.ok(mail.html.includes(htmlEscaped(TRICKY)));
    assert.ok(mail.text.includes(`Hello ${TRICKY},`));
    assert.ok(mail.text.includes(`to use ${TRICKY}.`));
  });

  it('leaves out what optional data is missing', async () => {
    const bare = await renderMail('registration_attempt', {});
    assert.doesNotMatch(bare.html, /href=/);
    assert.doesNotMatch(bare.text, /https?:/);
    assert.match(bare.text, /If it was not you, you can ignore this message/);
    const invitation = await renderMail('invitation', { link: link('invite'), expiresDays: 1 });
    assert.match(invitation.text, /^Hello,$/m);
    assert.match(invitation.text, /expires in 1 day\./);
    const confirm = await renderMail('email_change_confirm', {
      link: link('confirm'),
      expiresMinutes: 60,
      newEmail: 'new.kim@example.com',
    });
    assert.doesNotMatch(confirm.text, /code/);
    assert.match(confirm.text, /The link expires in 60 minutes/);
    const changed = await renderMail('password_changed', {});
    assert.match(changed.text, /"Forgot your password\?" on the sign-in page/);
  });

  it('refuses data that does not fit, naming the fields and not their values', async () => {
    await assert.rejects(renderMail('email_change_notice', { newEmail: TRICKY_EMAIL }), {
      name: 'MailDataError',
      message: 'Mail email_change_notice: newEmail Invalid email address',
    });
    await assert.rejects(renderMail('account_locked', { resetLink: 'http://x', unlockMinutes: 0 }), (error: Error) => {
      assert.ok(error instanceof MailDataError);
      assert.equal(error.message, 'Mail account_locked: unlockMinutes Too small: expected number to be >0');
      return true;
    });
  });
});
