// The profile schema without a server: a bad file is refused with the attribute and the problem
// named (at start, through loadConfig, and again on reload, which keeps the schema in force);
// values of every type are checked with what to fix; the rules for when to ask hold exactly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { DEFAULT_PROFILE_SCHEMA, resolveProfileSchema, type ProfileSchema } from '../../src/profile/schema.ts';
import { checkValue } from '../../src/profile/values.ts';
import { dueAttributes, signupAttributes, type SignInFacts } from '../../src/profile/rules.ts';
import { profileClaims } from '../../src/profile/claims.ts';

function schemaOf(file: unknown): ProfileSchema {
  const resolved = resolveProfileSchema(file);
  if (!('schema' in resolved)) assert.fail(`unexpected problems: ${JSON.stringify(resolved.problems)}`);
  return resolved.schema;
}

const problemsOf = (file: unknown) => {
  const resolved = resolveProfileSchema(file);
  return 'problems' in resolved ? resolved.problems.map((p) => `${p.attribute ?? '-'}: ${p.message}`) : [];
};

const scratchFile = (name: string, text: string) => {
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-schema-')), name);
  writeFileSync(file, text);
  return file;
};

describe('profile schema files', () => {
  it('names the attribute and the problem for each mistake', () => {
    assert.deepEqual(
      problemsOf({
        attributes: [
          { name: 'tier', type: 'enum', label: 'Tier' },
          { name: 'code', type: 'string', label: 'Code', pattern: '([a-z' },
          { name: 'phone_number', type: 'string' },
          { name: 'size', type: 'number', label: 'Size', min: 10, max: 5 },
          { name: 'sub', type: 'string', label: 'Subject' },
          { name: 'code', type: 'string', label: 'Again' },
          { name: 'hidden', type: 'string', label: 'Hidden', user_visible: false },
          { name: 'Bad-Name', type: 'string', label: 'x' },
          { name: 'colour', type: 'colour', label: 'Colour' },
          { name: 'nick', type: 'string', label: 'Nick', ask: [{ at: 'signup', min_sign_ins: 2 }] },
          { name: 'extra', type: 'string', label: 'Extra', scope: 'shop' },
          { name: 'typo', type: 'string', label: 'Typo', requird: true },
        ],
      }),
      [
        'Bad-Name: name: must be lower case letters, digits and _ (starting with a letter), at most 63',
        `colour: type: must be one of string, email, phone, date, boolean, enum, number, address, url`,
        'nick: ask.0.min_sign_ins: does not apply to a sign-up (at: signup)',
        'extra: scope: must be namespaced as profile:<name>, for example profile:shop',
        'typo: Unrecognized key: "requird"',
      ],
      'shape problems come first, all at once',
    );
    assert.deepEqual(
      problemsOf({
        attributes: [
          { name: 'tier', type: 'enum', label: 'Tier' },
          { name: 'code', type: 'string', label: 'Code', pattern: '([a-z' },
          { name: 'phone_number', type: 'string' },
          { name: 'size', type: 'number', label: 'Size', min: 10, max: 5 },
          { name: 'when', type: 'date', label: 'When', min: '2026-02-30' },
          { name: 'sub', type: 'string', label: 'Subject' },
          { name: 'code', type: 'string', label: 'Again' },
          { name: 'hidden', type: 'string', label: 'Hidden', user_visible: false },
          { name: 'custom', type: 'string' },
        ],
      }),
      [
        'tier: values is required for an enum',
        'code: pattern is not a valid regular expression: ([a-z',
        'phone_number: is the standard claim phone_number, of type phone; its type cannot be changed',
        'size: min is greater than max',
        'when: min must be a real date written YYYY-MM-DD for type date',
        'sub: claim sub is reserved (a protocol or standard claim); choose another claim name',
        'code: is declared twice',
        'code: claim code is already the claim of code',
        'hidden: user_editable needs user_visible (a user cannot edit what they cannot see)',
        'custom: label is required for a custom attribute',
      ],
    );
  });

  it('stops the start with every problem, prefixed by the variable and the file', () => {
    const file = scratchFile('profile.yaml', 'attributes:\n  - name: tier\n    type: enum\n    label: Tier\n');
    const broken = scratchFile('broken.yaml', 'attributes: [\n');
    const missing = join(tmpdir(), 'gatehouse-no-such-dir', 'profile.json');
    try {
      loadConfig({ PROFILE_SCHEMA_FILE: file, DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-')), SECRET_KEY: 'x'.repeat(40) });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, [`PROFILE_SCHEMA_FILE: ${file}: attribute tier: values is required for an enum`]);
    }
    for (const [path, expected] of [
      [broken, new RegExp(`^PROFILE_SCHEMA_FILE: ${broken} is not valid YAML: `)],
      [missing, new RegExp(`^PROFILE_SCHEMA_FILE: cannot read ${missing} \\(ENOENT\\)$`)],
    ] as const) {
      assert.throws(
        () => loadConfig({ PROFILE_SCHEMA_FILE: path, DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-')), SECRET_KEY: 'x'.repeat(40) }),
        (error: unknown) => error instanceof ConfigError && error.problems.length === 1 && expected.test(error.problems[0]),
      );
    }
  });

  it('keeps the schema in force when a reload finds a problem, and takes a good one', () => {
    const file = scratchFile('profile.yaml', 'attributes:\n  - name: tier\n    type: string\n    label: Tier\n');
    const config = loadConfig({
      PROFILE_SCHEMA_FILE: file,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-')),
      SECRET_KEY: 'x'.repeat(40),
    });
    assert.ok(config.declarations.current().profile.byName.has('tier'));
    writeFileSync(file, 'attributes:\n  - name: tier\n    type: number\n    label: Tier\n    min: high\n');
    assert.deepEqual(config.declarations.reload(), [`PROFILE_SCHEMA_FILE: ${file}: attribute tier: min must be a number for type number`]);
    assert.equal(config.declarations.current().profile.byName.get('tier')?.type, 'string', 'the previous schema stays');
    writeFileSync(file, 'attributes:\n  - name: tier\n    type: number\n    label: Tier\n');
    assert.deepEqual(config.declarations.reload(), []);
    assert.equal(config.declarations.current().profile.byName.get('tier')?.type, 'number');
  });

  it('ships example files that are valid', () => {
    const config = loadConfig({
      PROFILE_SCHEMA_FILE: 'config/profile.example.yaml',
      POLICIES_FILE: 'config/policies.example.yaml',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'gatehouse-')),
      SECRET_KEY: 'x'.repeat(40),
    });
    const { profile, policies } = config.declarations.current();
    assert.ok(profile.byName.get('loyalty_number')?.declared);
    assert.deepEqual(profile.scopes['profile:shop'], ['loyalty_number', 'preferred_store']);
    assert.ok(policies.documents.length > 0 && policies.purposes.length > 0);
  });

  it('has every standard claim without a file, asked for nowhere', () => {
    assert.equal(DEFAULT_PROFILE_SCHEMA.attributes.length, 15);
    assert.ok(DEFAULT_PROFILE_SCHEMA.attributes.every((a) => a.standard && !a.declared && a.ask.length === 0));
    assert.deepEqual(DEFAULT_PROFILE_SCHEMA.scopes.phone, ['phone_number', 'phone_number_verified']);
  });
});

describe('profile values', () => {
  const schema = schemaOf({
    attributes: [
      { name: 'code', type: 'string', label: 'Code', pattern: '[A-Z]{3}', max_length: 3 },
      { name: 'size', type: 'number', label: 'Size', min: 16, max: 52, integer: true },
      { name: 'day', type: 'date', label: 'Day', min: '2000-01-01', max: '2030-12-31' },
      { name: 'tier', type: 'enum', label: 'Tier', values: [{ value: 'gold' }] },
      { name: 'optin', type: 'boolean', label: 'Opt in' },
      { name: 'contact', type: 'email', label: 'Contact' },
    ],
  });
  const check = (name: string, raw: unknown) => checkValue(schema.byName.get(name) as never, raw);

  it('accepts good values in their stored form', () => {
    assert.deepEqual(check('code', ' ABC '), { value: 'ABC' });
    assert.deepEqual(check('size', '42'), { value: 42 });
    assert.deepEqual(check('size', 42), { value: 42 }, 'the admin API sends numbers as numbers');
    assert.deepEqual(check('day', '2024-02-29'), { value: '2024-02-29' });
    assert.deepEqual(check('tier', 'gold'), { value: 'gold' });
    assert.deepEqual(check('optin', 'false'), { value: false });
    assert.deepEqual(check('phone_number', '+1 (415) 555-0123'), { value: '+14155550123' });
    assert.deepEqual(check('birthdate', ''), { empty: true });
  });

  it('refuses bad values of every type with what to fix', () => {
    const cases: [string, unknown, string][] = [
      ['code', 'abc', 'This is not in the expected format'],
      ['code', 'ABCD', 'Use at most 3 characters'],
      ['code', 'A\u0000B', 'Remove the line breaks and control characters'],
      ['size', '15', 'Enter a number of at least 16'],
      ['size', '42.5', 'Enter a whole number'],
      ['size', '1e3', 'Enter a number'],
      ['day', '2023-02-29', 'Enter a real date'],
      ['day', '1999-12-31', 'Enter a date on or after 2000-01-01'],
      ['day', '31/12/2020', 'Enter a date as YYYY-MM-DD'],
      ['tier', 'platinum', 'Choose one of the options'],
      ['optin', 'yes', 'Choose yes or no'],
      ['contact', 'not-an-address', 'Enter a valid email address'],
      ['phone_number', '0612345678', 'Enter the number in international format: + then the country code and number, such as +33612345678'],
      ['address', { street_address: 'x', locality: 'y' }, 'Enter the country'],
      ['address', { street_address: 'x', locality: 'y', country: 'z', planet: 'Mars' }, 'An address has no planet'],
      ['picture', 'ftp://example.com/me.png', 'Enter a web address starting with https://'],
      ['name', { first: 'A' }, 'Enter text'],
    ];
    for (const [name, raw, problem] of cases) assert.deepEqual(check(name, raw), { problem }, `${name} ${JSON.stringify(raw)}`);
  });

  it('releases an address as the OIDC address object and a phone number with phone_number_verified', () => {
    assert.deepEqual(
      profileClaims(schema, {
        address: { street_address: '1 Main St', locality: 'Town', postal_code: '123', country: 'NZ' },
        phone_number: '+6421000000',
        retired: 'x',
      }),
      {
        phone_number: '+6421000000',
        phone_number_verified: false,
        address: { formatted: '1 Main St\n123 Town\nNZ', street_address: '1 Main St', locality: 'Town', postal_code: '123', country: 'NZ' },
      },
    );
  });
});

describe('when to ask', () => {
  const schema = schemaOf({
    prompt: { max_per_screen: 2 },
    attributes: [
      { name: 'nickname', ask: [{ at: 'sign_in', min_sign_ins: 3 }] },
      { name: 'birthdate', ask: [{ at: 'sign_in', from: '2027-01-01' }] },
      { name: 'phone_number', ask: [{ at: 'sign_in', clients: ['shop'], when_claim_requested: true, required: true }] },
      { name: 'address', reconfirm_after_days: 30, ask: [{ at: 'sign_in', clients: ['shop'] }] },
      { name: 'given_name', ask: [{ at: 'signup', required: true }, { at: 'sign_in' }] },
      { name: 'family_name', ask: [{ at: 'signup', clients: ['club'] }] },
    ],
  });
  const now = new Date('2026-12-06T12:00:00Z');
  const facts = (overrides: Partial<SignInFacts> = {}): SignInFacts => ({
    clientId: 'app',
    requestedClaims: new Set(),
    signIns: 1,
    now,
    profile: { given_name: 'Ann' },
    states: new Map(),
    ...overrides,
  });
  const due = (overrides: Partial<SignInFacts> = {}) =>
    dueAttributes(schema, facts(overrides)).map((d) => `${d.attribute.name}${d.required ? '!' : ''}${d.reconfirm ? '?' : ''}`);

  it('asks from the Nth sign-in on, not before', () => {
    assert.deepEqual(due({ signIns: 2 }), []);
    assert.deepEqual(due({ signIns: 3 }), ['nickname']);
    assert.deepEqual(due({ signIns: 4 }), ['nickname'], 'still missing: still asked (unless skipped)');
    assert.deepEqual(due({ signIns: 4, profile: { given_name: 'Ann', nickname: 'A' } }), []);
  });

  it('asks from a date on', () => {
    assert.deepEqual(due({ now: new Date('2026-12-31T23:59:59Z') }), []);
    assert.deepEqual(due({ now: new Date('2027-01-01T00:00:00Z') }), ['birthdate']);
  });

  it('asks a client’s attribute only of that client, when it asks for the claim; required first, one screen at a time', () => {
    assert.deepEqual(due({ clientId: 'shop' }), ['address']);
    assert.deepEqual(due({ clientId: 'shop', requestedClaims: new Set(['phone_number']), signIns: 3 }), ['phone_number!', 'nickname']);
  });

  it('holds a skip until its cool-down ends, except for a required attribute', () => {
    const skipped = new Map([
      ['nickname', { skippedUntil: new Date(now.getTime() + 1000) }],
      ['phone_number', { skippedUntil: new Date(now.getTime() + 1000) }],
    ]);
    assert.deepEqual(due({ signIns: 3, states: skipped }), []);
    assert.deepEqual(due({ signIns: 3, states: new Map([['nickname', { skippedUntil: new Date(now.getTime() - 1) }]]) }), ['nickname']);
    assert.deepEqual(due({ clientId: 'shop', requestedClaims: new Set(['phone_number']), states: skipped }), ['phone_number!', 'address']);
  });

  it('asks to confirm a value older than reconfirm_after_days', () => {
    const address = { street_address: '1 Main St', locality: 'Town', country: 'NZ' };
    const given = (daysAgo: number) => new Map([['address', { confirmedAt: new Date(now.getTime() - daysAgo * 86_400_000) }]]);
    assert.deepEqual(due({ clientId: 'shop', profile: { given_name: 'A', address }, states: given(29) }), []);
    assert.deepEqual(due({ clientId: 'shop', profile: { given_name: 'A', address }, states: given(30) }), ['address?']);
    assert.deepEqual(
      due({ clientId: 'shop', profile: { given_name: 'A', address } }),
      ['address?'],
      'a value of unknown age is confirmed once',
    );
  });

  it('puts sign-up attributes on the form of the clients they name', () => {
    const names = (clientId: string) => signupAttributes(schema, clientId, now).map((d) => `${d.attribute.name}${d.required ? '!' : ''}`);
    assert.deepEqual(names('app'), ['given_name!']);
    assert.deepEqual(names('club'), ['given_name!', 'family_name']);
  });
});
