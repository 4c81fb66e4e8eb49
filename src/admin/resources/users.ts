// /users: create, read, list, change, suspend and delete users; their sessions and grants;
// invitations and email changes (each sends its link by email, never in the answer).
import { z } from 'zod';
import {
  accountDeps,
  type ClientNameLookup,
  invitationSchema,
  inviteUser,
  requestEmailChange,
  revokeInvitation,
  createPreparedUser,
  prepareUser,
  type PreparedUser,
  deleteUser,
  emailSchema,
  listUserGrants,
  listUserSessions,
  listUsers,
  newUserSchema,
  passwordSchema,
  publicUser,
  revokeUserGrant,
  revokeUserSession,
  setPassword,
  suspendUser,
  unsuspendUser,
  updateUser,
  userUpdateSchema,
  getUser,
} from '../../accounts/index.ts';
import { getClient } from '../../clients/index.ts';
import { factorSummary, resetSecondFactors } from '../../mfa/factors.ts';
import { exportUserData } from '../../dataExport/index.ts';
import { NotFoundError, RateLimitedError } from '../../errors/index.ts';
import type { Db } from '../../db/index.ts';
import { operation, type Operation } from '../operation.ts';
import { identifierParam, page, pageQuery, timestamp } from '../schemas.ts';

const userSchema = z
  .object({
    id: z.string().meta({ description: 'The stable `sub` relying parties see' }),
    email: z.string(),
    email_verified: z.boolean(),
    profile: z.record(z.string(), z.unknown()).meta({
      description: 'Profile attributes by name: standard OpenID Connect claims other than email, and the profile schema’s custom ones',
    }),
    has_password: z.boolean(),
    suspended: z.boolean(),
    suspended_at: timestamp.nullable(),
    locked_until: timestamp.nullable().meta({ description: 'Sign-in is refused until then, after too many failures' }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'User' });

const userExportSchema = z
  .object({
    exported_at: z.string(),
    account: z.object({ id: z.string(), email: z.string(), email_verified: z.boolean(), created_at: timestamp, updated_at: timestamp }),
    profile: z.record(z.string(), z.unknown()),
    policy_decisions: z.array(
      z.object({
        document: z.string(),
        version: z.string(),
        decision: z.enum(['accepted', 'declined']),
        recorded_at: timestamp,
        client_id: z.string().nullable(),
      }),
    ),
    consents: z.array(
      z.object({
        purpose: z.string(),
        version: z.string(),
        granted: z.boolean(),
        recorded_at: timestamp,
        client_id: z.string().nullable(),
        source: z.enum(['sign_in', 'account', 'admin']),
      }),
    ),
  })
  .meta({ id: 'UserExport' });

const factorSummarySchema = z
  .object({
    totp: z.boolean().meta({ description: 'Whether the user has a confirmed authenticator app' }),
    passkeys: z.number().int(),
    recovery_codes_remaining: z.number().int(),
    known_devices: z.number().int().meta({ description: 'Browsers remembered after a multi-factor sign-in' }),
  })
  .meta({ id: 'UserFactors' });

const sessionSchema = z
  .object({ id: z.string(), clients: z.array(z.string()), authenticated_at: timestamp.nullable(), expires_at: timestamp.nullable() })
  .meta({ id: 'Session' });
const grantSchema = z
  .object({
    id: z.string(),
    client_id: z.string(),
    scope: z.string(),
    resources: z.array(z.string()),
    created_at: timestamp.nullable(),
    expires_at: timestamp.nullable(),
  })
  .meta({ id: 'Grant' });

const invitationAnswerSchema = z
  .object({
    user: userSchema,
    expires_at: timestamp.meta({ description: 'When the emailed link stops working' }),
  })
  .meta({ id: 'Invitation' });
const emailChangeSchema = z.object({ email: emailSchema }).strict().meta({ id: 'EmailChangeRequest' });
const pendingEmailChangeSchema = z
  .object({
    new_email: z.string(),
    expires_at: timestamp.meta({ description: 'When the link sent to the new address stops working' }),
  })
  .meta({ id: 'PendingEmailChange' });

const userParams = z.object({ userId: identifierParam('user id') }).strict();
const TAG = 'Users';

/** The name an invitation shows for a client: its registered name, else its id; undefined when there is no such client. */
const clientNameLookup =
  (db: Db): ClientNameLookup =>
  (clientId) =>
    getClient(db, clientId).then(
      (client) => client.client_name ?? client.client_id,
      (error: unknown) => {
        if (error instanceof NotFoundError) return undefined;
        throw error;
      },
    );

interface UserPosition {
  createdAt: string;
  id: string;
}

export const USER_OPERATIONS: Operation[] = [
  operation({
    method: 'post',
    path: '/users',
    operationId: 'createUser',
    summary: 'Create a user',
    tag: TAG,
    scope: 'users:write',
    body: newUserSchema,
    response: userSchema,
    status: 201,
    versioned: true,
    idempotent: true,
    errors: [400, 409, 415, 422],
    prepare: ({ body, deps }) => prepareUser(body, deps.config, deps.config.declarations.current().profile),
    async handle({ service, prepared }) {
      const user = publicUser(await createPreparedUser(service, prepared as PreparedUser));
      return { body: user, location: `/users/${user.id}` };
    },
  }),
  operation({
    method: 'post',
    path: '/users/invitations',
    operationId: 'inviteUser',
    summary: 'Invite someone: a user without a password, emailed a link to choose one',
    description:
      'The link (good for 7 days) is sent by email only. Inviting an address again replaces its link; an address that already has a password or a verified account is refused (409). Given client_id, the invitee lands on that client once signed in. Each admin client may send a limited number of invitations an hour (429 with Retry-After beyond it).',
    tag: TAG,
    scope: 'users:write',
    body: invitationSchema,
    response: invitationAnswerSchema,
    status: 201,
    idempotent: true,
    errors: [400, 404, 409, 415, 422, 429],
    // Here rather than in handle: a replayed Idempotency-Key answers before prepare, and costs nothing.
    async prepare({ deps, caller }) {
      const decision = await deps.abuse.invitation.attempt(caller.clientId);
      if (!decision.allowed)
        throw new RateLimitedError('Too many invitations from this client; try again later', decision.retryAfterSeconds);
      return undefined;
    },
    async handle({ body, service, deps }) {
      const invitation = await inviteUser(
        service,
        accountDeps(deps.config, deps.box, deps.mailer.nudge),
        body,
        clientNameLookup(service.db),
      );
      return { body: invitation, location: `/users/${invitation.user.id}` };
    },
  }),
  operation({
    method: 'get',
    path: '/users',
    operationId: 'listUsers',
    summary: 'List users, oldest first',
    tag: TAG,
    scope: 'users:read',
    query: z
      .object({
        ...pageQuery,
        email: emailSchema.optional().meta({ description: 'Only the user with this address (any letter case)' }),
        created_from: timestamp.optional().meta({ description: 'Only users created at or after this time' }),
        created_before: timestamp.optional().meta({ description: 'Only users created before this time' }),
      })
      .strict(),
    response: page(userSchema, 'UserPage'),
    errors: [400],
    async handle({ query, deps }) {
      const after = query.cursor ? deps.cursors.decode<UserPosition>('users', query.cursor) : undefined;
      const users = await listUsers(deps.database.db, {
        limit: query.limit,
        after,
        email: query.email,
        createdFrom: query.created_from ? new Date(query.created_from) : undefined,
        createdBefore: query.created_before ? new Date(query.created_before) : undefined,
      });
      const last = users.at(-1);
      const nextCursor =
        last && users.length === query.limit
          ? deps.cursors.encode('users', { createdAt: new Date(last.created_at).toISOString(), id: last.id })
          : undefined;
      return { body: { data: users.map(publicUser), next_cursor: nextCursor ?? null }, nextCursor };
    },
  }),
  operation({
    method: 'get',
    path: '/users/{userId}',
    operationId: 'getUser',
    summary: 'Read a user',
    tag: TAG,
    scope: 'users:read',
    params: userParams,
    response: userSchema,
    versioned: true,
    errors: [404],
    handle: async ({ params, deps }) => ({ body: publicUser(await getUser(deps.database.db, params.userId)) }),
  }),
  operation({
    method: 'patch',
    path: '/users/{userId}',
    operationId: 'updateUser',
    summary: 'Change a user’s email or profile claims',
    description:
      'Fields left out stay as they are; a profile claim set to null is removed. A new email is unverified unless email_verified says otherwise.',
    tag: TAG,
    scope: 'users:write',
    params: userParams,
    body: userUpdateSchema,
    response: userSchema,
    versioned: true,
    errors: [400, 404, 409, 412, 415],
    handle: async ({ params, body, service, ifMatch, deps }) => ({
      body: publicUser(await updateUser(service, params.userId, body, { ifMatch }, deps.config.declarations.current().profile)),
    }),
  }),
  operation({
    method: 'put',
    path: '/users/{userId}/password',
    operationId: 'setUserPassword',
    summary: 'Set a user’s password',
    tag: TAG,
    scope: 'users:write',
    params: userParams,
    body: z.object({ password: passwordSchema }).strict().meta({ id: 'NewPassword' }),
    response: userSchema,
    versioned: true,
    errors: [400, 404, 412, 415],
    handle: async ({ params, body, service, deps, ifMatch }) => ({
      body: publicUser(await setPassword(service, params.userId, body.password, deps.config, { ifMatch })),
    }),
  }),
  operation({
    method: 'delete',
    path: '/users/{userId}/invitation',
    operationId: 'revokeInvitation',
    summary: 'Withdraw a user’s pending invitation: its link stops working',
    tag: TAG,
    scope: 'users:write',
    params: userParams,
    errors: [404],
    async handle({ params, service }) {
      await revokeInvitation(service, params.userId);
      return {};
    },
  }),
  operation({
    method: 'get',
    path: '/users/{userId}/factors',
    operationId: 'getUserFactors',
    summary: 'What second factors a user holds (never a secret or a code)',
    tag: TAG,
    scope: 'users:read',
    params: userParams,
    response: factorSummarySchema,
    errors: [404],
    async handle({ params, service }) {
      await getUser(service.db, params.userId);
      return { body: await factorSummary(service.db, params.userId) };
    },
  }),
  operation({
    method: 'get',
    path: '/users/{userId}/export',
    operationId: 'exportUser',
    summary: 'A user’s data, as they may ask for it: account, exported profile attributes, policy decisions, consent ledger',
    description: 'Profile attributes whose schema entry says `export: false` are left out; no secret, digest or factor is ever part of it.',
    tag: TAG,
    scope: 'users:read',
    params: userParams,
    response: userExportSchema,
    errors: [404],
    handle: async ({ params, service, deps }) => ({
      body: (await exportUserData(service.db, params.userId, deps.config.declarations.current())) as z.infer<typeof userExportSchema>,
    }),
  }),
  operation({
    method: 'delete',
    path: '/users/{userId}/factors',
    operationId: 'resetUserFactors',
    summary: 'Remove a user’s passkeys, authenticator app and recovery codes, and forget their browsers',
    description:
      'For an owner who lost their factors, once you have checked who they are. Their next sign-in is with the password (or a reset link) alone; sessions are left as they are (revoke them too if the factors may be in someone else’s hands).',
    tag: TAG,
    scope: 'users:write',
    params: userParams,
    errors: [404],
    async handle({ params, service }) {
      await resetSecondFactors(service, params.userId);
      return {};
    },
  }),
  operation({
    method: 'post',
    path: '/users/{userId}/email-change',
    operationId: 'requestEmailChange',
    summary: 'Change a user’s email once they confirm it: a link is sent to the new address',
    description:
      'The new address replaces the old one (verified) only when the link sent to it, good for an hour, is followed; until then the user keeps the old one. A newer request replaces the link.',
    tag: TAG,
    scope: 'users:write',
    params: userParams,
    body: emailChangeSchema,
    response: pendingEmailChangeSchema,
    status: 202,
    errors: [400, 404, 409, 415],
    async handle({ params, body, service, deps }) {
      const { expires_at } = await requestEmailChange(
        service,
        accountDeps(deps.config, deps.box, deps.mailer.nudge),
        params.userId,
        body.email,
      );
      return { body: { new_email: body.email, expires_at } };
    },
  }),
  operation({
    method: 'post',
    path: '/users/{userId}/suspend',
    operationId: 'suspendUser',
    summary: 'Suspend a user',
    description: 'A suspended user cannot sign in; their sessions, grants and opaque tokens are revoked at once.',
    tag: TAG,
    scope: 'users:write',
    params: userParams,
    response: userSchema,
    versioned: true,
    errors: [404, 412],
    handle: async ({ params, service, ifMatch }) => ({ body: publicUser(await suspendUser(service, params.userId, { ifMatch })) }),
  }),
  operation({
    method: 'post',
    path: '/users/{userId}/unsuspend',
    operationId: 'unsuspendUser',
    summary: 'Let a suspended user sign in again',
    tag: TAG,
    scope: 'users:write',
    params: userParams,
    response: userSchema,
    versioned: true,
    errors: [404, 412],
    handle: async ({ params, service, ifMatch }) => ({ body: publicUser(await unsuspendUser(service, params.userId, { ifMatch })) }),
  }),
  operation({
    method: 'delete',
    path: '/users/{userId}',
    operationId: 'deleteUser',
    summary: 'Delete a user and everything issued to them',
    tag: TAG,
    scope: 'users:write',
    params: userParams,
    versioned: true,
    errors: [404, 412],
    async handle({ params, service, ifMatch }) {
      await deleteUser(service, params.userId, { ifMatch });
      return {};
    },
  }),
  operation({
    method: 'get',
    path: '/users/{userId}/sessions',
    operationId: 'listUserSessions',
    summary: 'List a user’s live sessions',
    tag: TAG,
    scope: 'users:read',
    params: userParams,
    response: z.object({ data: z.array(sessionSchema) }).meta({ id: 'SessionList' }),
    errors: [404],
    handle: async ({ params, deps }) => ({ body: { data: await listUserSessions(deps.database.db, params.userId) } }),
  }),
  operation({
    method: 'delete',
    path: '/users/{userId}/sessions/{sessionId}',
    operationId: 'revokeUserSession',
    summary: 'Sign a user out of one session',
    tag: TAG,
    scope: 'users:write',
    params: z.object({ userId: identifierParam('user id'), sessionId: identifierParam('session id') }).strict(),
    errors: [404],
    async handle({ params, service }) {
      await revokeUserSession(service, params.userId, params.sessionId);
      return {};
    },
  }),
  operation({
    method: 'get',
    path: '/users/{userId}/grants',
    operationId: 'listUserGrants',
    summary: 'List what a user has granted to clients',
    tag: TAG,
    scope: 'users:read',
    params: userParams,
    response: z.object({ data: z.array(grantSchema) }).meta({ id: 'GrantList' }),
    errors: [404],
    handle: async ({ params, deps }) => ({ body: { data: await listUserGrants(deps.database.db, params.userId) } }),
  }),
  operation({
    method: 'delete',
    path: '/users/{userId}/grants/{grantId}',
    operationId: 'revokeUserGrant',
    summary: 'Withdraw a grant: its refresh and access tokens stop working',
    tag: TAG,
    scope: 'users:write',
    params: z.object({ userId: identifierParam('user id'), grantId: identifierParam('grant id') }).strict(),
    errors: [404],
    async handle({ params, service }) {
      await revokeUserGrant(service, params.userId, params.grantId);
      return {};
    },
  }),
];
