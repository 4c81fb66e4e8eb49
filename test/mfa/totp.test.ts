// The authenticator app (TOTP) on the database: the seed sealed at rest, a pending enrolment
// confirmed by a right code, each code accepted once (one of 8 parallel requests wins: only the
// real PostgreSQL server runs them truly in parallel, PGlite serialises them), the step either
// side accepted for drift and nothing further, and malformed input refused without a look at
// the row. The clock is Node's mock Date, set to the middle of a 30-second step and moved a
// step at a time; codes are computed with otplib from the seed the enrolment returned.
import { after, afterEach, before, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import QRCode from 'qrcode';
import { createUser } from '../../src/accounts/index.ts';
import type { ServiceContext } from '../../src/changes/index.ts';
import { ConflictError, NotFoundError } from '../../src/errors/index.ts';
import { confirmTotp, pendingTotpEnrolment, removeTotp, startTotpEnrolment, totpStatus, verifyTotp } from '../../src/mfa/totp.ts';
import { createSecretBox } from '../../src/secrets/secretBox.ts';
import { createTestDatabase, truncateAll, type TestDatabase } from '../helpers/database.ts';
import { operator } from '../helpers/fixtures.ts';
import { TEST_SECRET_KEY } from '../helpers/server.ts';

const box = createSecretBox(TEST_SECRET_KEY);
const deps = { box };
const LABELS = { accountName: 'tess@example.com', issuer: 'Gatehouse' };
const STEP_MS = 30_000;

describe('TOTP second factor', () => {
  let database: TestDatabase;
  let userId: string;
  let ctx: ServiceContext;
  /** The current step of the mocked clock. */
  let step: number;

  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database.dispose());
  beforeEach(async () => {
    await truncateAll(database);
    userId = (await createUser(operator(database), { email: LABELS.accountName }, 4)).id;
    ctx = { db: database.db, actor: { type: 'user', id: userId }, source: 'http://gatehouse.test', ip: '203.0.113.7', requestId: 'req-1' };
    step = Math.floor(Date.now() / STEP_MS);
    mock.timers.enable({ apis: ['Date'], now: step * STEP_MS + STEP_MS / 2 });
  });
  afterEach(() => mock.timers.reset());

  const nextStep = (steps = 1) => {
    mock.timers.tick(steps * STEP_MS);
    step += steps;
  };
  const codeAt = (secret: string, atStep: number) => generate({ secret, epoch: atStep * 30 + 15 });
  /** A well-formed code that is right in none of the steps around now. */
  async function wrongCode(secret: string): Promise<string> {
    const around = await Promise.all([-1, 0, 1].map((d) => codeAt(secret, step + d)));
    return ['000000', '111111', '222222', '333333'].find((c) => !around.includes(c)) as string;
  }
  const row = () => database.db('totp_factors').where('user_id', userId).first();
  const auditOf = (type: string) => database.db('audit_events').where('type', type).orderBy('id');
  const eventsOf = (type: string) => database.db('domain_events').where('type', `gatehouse.${type}`).orderBy('seq');

  async function enrolled(): Promise<string> {
    const { secret } = await startTotpEnrolment(ctx, deps, userId, LABELS);
    assert.equal(await confirmTotp(ctx, deps, userId, await codeAt(secret, step)), true);
    return secret;
  }

  it('enrols with a QR code and a key to type, and keeps the seed only sealed', async () => {
    const enrolment = await startTotpEnrolment(ctx, deps, userId, LABELS);
    assert.match(enrolment.secret, /^[A-Z2-7]{32}$/, '160 bits in base32');
    assert.equal(enrolment.otpauthUri, `otpauth://totp/Gatehouse:tess%40example.com?secret=${enrolment.secret}&issuer=Gatehouse`);
    const svg = Buffer.from(enrolment.qrDataUrl.replace(/^data:image\/svg\+xml;base64,/, ''), 'base64').toString('utf8');
    assert.ok(enrolment.qrDataUrl.startsWith('data:image/svg+xml;base64,'));
    assert.equal(
      svg,
      await QRCode.toString(enrolment.otpauthUri, { type: 'svg', errorCorrectionLevel: 'M', margin: 4 }),
      'the QR code holds the URI',
    );

    const stored = await row();
    assert.equal(JSON.stringify(stored).includes(enrolment.secret), false, 'the seed is not in the row');
    assert.match(stored.secret, new RegExp(`^v2\\.${box.currentKeyId}\\.`));
    assert.equal(stored.confirmed_at, null);
    assert.throws(() => box.open(stored.secret, { table: 'totp_factors', rowId: 'another-user', purpose: 'secret' }), {
      name: 'SealedSecretError',
      problem: 'not-authentic',
    });
    assert.deepEqual(await totpStatus(database.db, userId), { enrolled: false, pending: true });
    assert.deepEqual(
      await pendingTotpEnrolment(database.db, deps, userId, LABELS),
      enrolment,
      'the same QR code again after a mistyped code',
    );
    assert.equal((await eventsOf('user.totp_enrolment_started')).length, 1);
  });

  it('refuses labels an authenticator app cannot show', async () => {
    await assert.rejects(startTotpEnrolment(ctx, deps, userId, { accountName: ' ', issuer: 'x'.repeat(201) }), {
      name: 'InvalidInputError',
      message: 'Invalid authenticator labels',
      fields: [
        { path: 'accountName', message: 'must be 1 to 200 characters' },
        { path: 'issuer', message: 'must be 1 to 200 characters' },
      ],
    });
    assert.equal(await row(), undefined);
  });

  it('confirms the pending authenticator with a right code only', async () => {
    const { secret } = await startTotpEnrolment(ctx, deps, userId, LABELS);
    assert.equal(await confirmTotp(ctx, deps, userId, await wrongCode(secret)), false);
    assert.deepEqual(await totpStatus(database.db, userId), { enrolled: false, pending: true });
    assert.equal(await verifyTotp(ctx, deps, userId, await codeAt(secret, step)), false, 'a pending authenticator proves nothing');

    const code = await codeAt(secret, step);
    assert.equal(await confirmTotp(ctx, deps, userId, code), true);
    const status = await totpStatus(database.db, userId);
    assert.equal(status.enrolled, true);
    assert.ok(status.confirmedAt instanceof Date);
    assert.equal(Number((await row()).last_used_step), step, 'the confirming code counts as used');
    assert.equal(await verifyTotp(ctx, deps, userId, code), false);
    const [audited] = await auditOf('user.totp_enrolled');
    assert.equal(audited.user_id, userId);
    assert.equal((await eventsOf('user.totp_enrolled')).length, 1);
    await assert.rejects(confirmTotp(ctx, deps, userId, await codeAt(secret, step)), {
      name: 'ConflictError',
      message: 'The authenticator app is already confirmed',
    });
  });

  it('replaces a pending enrolment, so the earlier QR code no longer confirms', async () => {
    const first = await startTotpEnrolment(ctx, deps, userId, LABELS);
    const second = await startTotpEnrolment(ctx, deps, userId, LABELS);
    assert.notEqual(second.secret, first.secret);
    assert.equal(await confirmTotp(ctx, deps, userId, await codeAt(first.secret, step)), false);
    assert.equal(await confirmTotp(ctx, deps, userId, await codeAt(second.secret, step)), true);
  });

  it('refuses a new enrolment while a confirmed authenticator exists, and changes nothing', async () => {
    await enrolled();
    const before = await row();
    await assert.rejects(
      startTotpEnrolment(ctx, deps, userId, LABELS),
      (error: unknown) =>
        error instanceof ConflictError && error.message === 'The user already has an authenticator app: remove it before adding another',
    );
    assert.deepEqual(await row(), before);
    assert.equal((await eventsOf('user.totp_enrolment_started')).length, 1);
  });

  it('accepts the current code once, with spaces or without, and audits both outcomes', async () => {
    const secret = await enrolled();
    nextStep();
    const code = await codeAt(secret, step);
    assert.equal(await verifyTotp(ctx, deps, userId, ` ${code.slice(0, 3)} ${code.slice(3)} `), true);
    assert.equal(await verifyTotp(ctx, deps, userId, code), false, 'the same code again');
    assert.equal(await verifyTotp(ctx, deps, userId, await wrongCode(secret)), false);

    const [verified] = await auditOf('mfa.totp_verified');
    assert.equal(verified.user_id, userId);
    assert.equal(verified.ip, '203.0.113.7');
    assert.deepEqual(verified.details, { drift: 0, actor: { type: 'user', id: userId } });
    assert.deepEqual(
      (await auditOf('mfa.totp_failed')).map((a) => [a.user_id, a.request_id, a.details]),
      [
        [userId, 'req-1', { reason: 'reused', actor: { type: 'user', id: userId } }],
        [userId, 'req-1', { reason: 'wrong_code', actor: { type: 'user', id: userId } }],
      ],
    );
    assert.deepEqual(
      (await eventsOf('mfa.totp_verified')).map((e) => e.data),
      [{ drift: 0 }],
    );
    assert.equal((await eventsOf('mfa.totp_failed')).length, 0, 'a refusal changes nothing: no event');
  });

  it('accepts the step either side once, refuses two steps away, and never a step at or before one used', async () => {
    const secret = await enrolled();
    nextStep(3);
    const previous = await codeAt(secret, step - 1);
    assert.equal(await verifyTotp(ctx, deps, userId, await codeAt(secret, step - 2)), false, 'two steps back');
    assert.equal(await verifyTotp(ctx, deps, userId, await codeAt(secret, step + 2)), false, 'two steps ahead');
    assert.equal(await verifyTotp(ctx, deps, userId, previous), true, 'a step back: a slow phone clock');
    assert.equal(await verifyTotp(ctx, deps, userId, previous), false);
    assert.equal(await verifyTotp(ctx, deps, userId, await codeAt(secret, step + 1)), true, 'a step ahead');
    assert.equal(await verifyTotp(ctx, deps, userId, await codeAt(secret, step)), false, 'the current step is now behind one used');
    assert.equal(Number((await row()).last_used_step), step + 1);
    assert.deepEqual(
      (await auditOf('mfa.totp_failed')).map((a) => a.details.reason),
      ['wrong_code', 'wrong_code', 'reused', 'reused'],
    );
    assert.deepEqual(
      (await eventsOf('mfa.totp_verified')).map((e) => e.data),
      [{ drift: -1 }, { drift: 1 }],
    );
  });

  it('lets exactly one of 8 parallel verifications of one code through', async () => {
    const secret = await enrolled();
    nextStep();
    const code = await codeAt(secret, step);
    const outcomes = await Promise.all(Array.from({ length: 8 }, () => verifyTotp(ctx, deps, userId, code)));
    assert.equal(outcomes.filter(Boolean).length, 1);
    assert.equal(Number((await row()).last_used_step), step);
    assert.equal((await auditOf('mfa.totp_verified')).length, 1);
    assert.deepEqual(
      (await auditOf('mfa.totp_failed')).map((a) => a.details.reason),
      Array(7).fill('reused'),
    );
    assert.equal((await eventsOf('mfa.totp_verified')).length, 1);
  });

  it('refuses malformed codes without a look at the row', async () => {
    const secret = await enrolled();
    nextStep();
    const code = await codeAt(secret, step);
    const before = await row();
    const audits = (await database.db('audit_events').count({ n: '*' }).first())?.n;
    const malformed: unknown[] = [
      code.slice(0, 5),
      `${code}0`,
      `${code.slice(0, 5)}x`,
      `${' '.repeat(30)}${code}`, // right digits, but longer than anyone types
      '１２３４５６', // full-width digits
      Number(code),
      undefined,
      null,
      [code],
      '',
    ];
    for (const input of malformed) {
      assert.equal(await verifyTotp(ctx, deps, userId, input), false, `verify ${JSON.stringify(input)}`);
      assert.equal(await confirmTotp(ctx, deps, userId, input), false, `confirm ${JSON.stringify(input)}`);
    }
    assert.deepEqual(await row(), before);
    assert.equal((await database.db('audit_events').count({ n: '*' }).first())?.n, audits, 'nothing audited');
    assert.equal(await verifyTotp(ctx, deps, userId, code), true, 'the right code still works');
  });

  it('refuses every code of a user without a confirmed authenticator, and says so in the audit', async () => {
    assert.equal(await verifyTotp(ctx, deps, userId, '123456'), false);
    assert.deepEqual(
      (await auditOf('mfa.totp_failed')).map((a) => a.details.reason),
      ['not_enrolled'],
    );
    await assert.rejects(confirmTotp(ctx, deps, userId, '123456'), {
      name: 'NotFoundError',
      message: `User ${userId} is not adding an authenticator app`,
    });
  });

  it('removes the authenticator, after which its codes prove nothing', async () => {
    const secret = await enrolled();
    await removeTotp(ctx, userId);
    assert.deepEqual(await totpStatus(database.db, userId), { enrolled: false, pending: false });
    assert.equal(await row(), undefined);
    nextStep();
    assert.equal(await verifyTotp(ctx, deps, userId, await codeAt(secret, step)), false);
    assert.deepEqual(
      (await eventsOf('user.totp_removed')).map((e) => e.data),
      [{ confirmed: true }],
    );
    await assert.rejects(
      removeTotp(ctx, userId),
      (error: unknown) => error instanceof NotFoundError && error.message === `User ${userId} has no authenticator app`,
    );
    // Removed, a new one may be added.
    assert.match((await startTotpEnrolment(ctx, deps, userId, LABELS)).secret, /^[A-Z2-7]{32}$/);
  });

  it('does not accept a code against a seed copied from another user', async () => {
    const secret = await enrolled();
    const other = (await createUser(operator(database), { email: 'mallory@example.com' }, 4)).id;
    await database.db('totp_factors').insert({ ...(await row()), user_id: other });
    nextStep();
    const otherCtx = { ...ctx, actor: { type: 'user' as const, id: other } };
    await assert.rejects(verifyTotp(otherCtx, deps, other, await codeAt(secret, step)), {
      name: 'SealedSecretError',
      problem: 'not-authentic',
    });
    assert.equal((await auditOf('mfa.totp_verified')).length, 0);
  });
});
