// Invitations: an operator (CLI) or an admin client creates an account for someone and emails
// them a link, good for a week, to choose a password. Accepting proves the address (the user is
// verified) and signs them in; given a client, they land on its start page. Inviting again
// replaces the link; revoking uses it up. An address that already has a usable account is
// refused: there is nothing to invite it to.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { afterCommit, commitChange, type ServiceContext } from '../changes/index.ts';
import { isUniqueViolation } from '../db/constraints.ts';
import { ConflictError, NotFoundError, parseInput } from '../errors/index.ts';
import type { Db } from '../db/index.ts';
import { emailSchema, findUserByEmail, publicUser, type PublicUser, type User } from './users.ts';
import { consumeToken, issueToken, revokeTokens, type TokenRefusal } from './oneTimeTokens.ts';
import { type AccountDeps, TOKEN_LIFETIME_SECONDS, hashPasswordForLink, linkTo, queueMail } from './selfServiceDeps.ts';
import { dropUnprovenWaysIn } from './passwordReset.ts';

export const invitationSchema = z
  .object({
    email: emailSchema,
    name: z.string().trim().min(1).max(200).optional(),
    /** The client whose start page the invitee lands on once signed in. */
    client_id: z.string().min(1).max(100).optional(),
  })
  .strict()
  .meta({ id: 'NewInvitation' });
export type NewInvitation = z.input<typeof invitationSchema>;

export interface Invitation {
  user: PublicUser;
  expires_at: Date;
}

/** Looks up the client's display name and checks it exists. */
export type ClientNameLookup = (clientId: string) => Promise<string | undefined>;

export async function inviteUser(
  ctx: ServiceContext,
  deps: AccountDeps,
  input: unknown,
  clientName: ClientNameLookup,
): Promise<Invitation> {
  const data = parseInput(invitationSchema, input);
  const shownClientName = data.client_id ? await clientName(data.client_id) : undefined;
  if (data.client_id && shownClientName === undefined) throw new NotFoundError(`No client ${data.client_id}`);
  const invitation = await commitChange(ctx, async (trx) => {
    const user = await invitee(trx, data);
    const issued = await issueToken(trx, deps.box, {
      purpose: 'invitation',
      userId: user.id,
      ttlSeconds: TOKEN_LIFETIME_SECONDS.invitation,
      data: data.client_id ? { client_id: data.client_id } : {},
    });
    await queueMail(trx, deps, {
      to: user.email,
      template: 'invitation',
      data: {
        link: linkTo(deps, 'invitation', issued.token),
        expiresDays: TOKEN_LIFETIME_SECONDS.invitation / 86400,
        name: data.name,
        clientName: shownClientName,
      },
    });
    return {
      value: { user: publicUser(user), expires_at: issued.expiresAt },
      record: {
        type: 'user.invited',
        subject: user.id,
        userId: user.id,
        clientId: data.client_id,
        data: { client_id: data.client_id ?? null },
      },
    };
  });
  afterCommit(ctx.db, deps.mailQueued);
  return invitation;
}

/** The invited user: made now, or one invited before who never accepted (no password yet). */
async function invitee(trx: Db, data: z.output<typeof invitationSchema>): Promise<User> {
  const existing = await findUserByEmail(trx, data.email);
  if (existing) {
    if (existing.password_hash || existing.email_verified) throw new ConflictError('An account with this email already exists');
    if (existing.suspended_at) throw new ConflictError('This account is suspended: unsuspend it before inviting again');
    return existing;
  }
  const row = { id: randomUUID(), email: data.email, email_verified: false, profile: JSON.stringify(data.name ? { name: data.name } : {}) };
  const [user] = (await trx('users')
    .insert(row)
    .returning('*')
    .catch((error: unknown) => {
      if (isUniqueViolation(error)) throw new ConflictError('An account with this email already exists');
      throw error;
    })) as User[];
  return user;
}

/** Withdraws a user's pending invitation: its link stops working. */
export async function revokeInvitation(ctx: ServiceContext, userId: string): Promise<void> {
  await commitChange(ctx, async (trx) => {
    const revoked = await revokeTokens(trx, userId, ['invitation']);
    if (!revoked) throw new NotFoundError(`User ${userId} has no pending invitation`);
    return { value: undefined, record: { type: 'user.invitation_revoked', subject: userId, userId, data: {} } };
  });
}

export type AcceptOutcome =
  | {
      ok: true;
      user: User;
      clientId?: string;
      /** A sign-in ticket for this browser (a cookie): its next sign-in within minutes needs no password. */
      signInTicket: string;
    }
  | { ok: false; reason: TokenRefusal };

/** Sets the invitee's password through the link; they are verified from then on. */
export async function acceptInvitation(ctx: ServiceContext, deps: AccountDeps, token: unknown, password: unknown): Promise<AcceptOutcome> {
  const prepared = await hashPasswordForLink(ctx.db, deps, 'invitation', token, password);
  if (!prepared.ok) return prepared;
  const { passwordHash } = prepared;
  return commitChange<AcceptOutcome>(ctx, async (trx) => {
    const used = await consumeToken(trx, 'invitation', token);
    if (!used.ok) return { value: used, record: null };
    // The invitee's row may be one a federated sign-in made on their unverified address.
    const dropped = await dropUnprovenWaysIn(trx, used.token.user_id, false);
    const [user] = (await trx('users')
      .where('id', used.token.user_id)
      .update({ password_hash: passwordHash, email_verified: true, updated_at: trx.fn.now() })
      .returning('*')) as User[];
    const clientId = typeof used.token.data.client_id === 'string' ? used.token.data.client_id : undefined;
    const ticket = await issueToken(trx, deps.box, { purpose: 'sign_in', userId: user.id, ttlSeconds: TOKEN_LIFETIME_SECONDS.sign_in });
    return {
      value: { ok: true, user, clientId, signInTicket: ticket.token },
      record: { type: 'user.invitation_accepted', subject: user.id, userId: user.id, clientId, data: { ...dropped } },
    };
  });
}

/** Uses a sign-in ticket from an accepted invitation: the user it signs in, if it is still good. */
export async function useSignInTicket(ctx: ServiceContext, ticket: unknown): Promise<User | undefined> {
  return commitChange(ctx, async (trx) => {
    const used = await consumeToken(trx, 'sign_in', ticket);
    const user = used.ok ? await trx<User>('users').where('id', used.token.user_id).whereNull('suspended_at').first() : undefined;
    return { value: user, record: null };
  });
}
