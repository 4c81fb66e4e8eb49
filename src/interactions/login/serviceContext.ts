// The ServiceContext of a change someone makes for themselves on a hosted screen: the actor is
// the person at the browser (who they are is the change's subject), with the request's id and IP.
import type { Context } from 'koa';
import type { ServiceContext } from '../../changes/index.ts';
import type { Db } from '../../db/index.ts';

export function interactionContext(ctx: Context, deps: { db: Db; accounts: { issuer: string } }): ServiceContext {
  return { db: deps.db, actor: { type: 'user' }, source: deps.accounts.issuer, requestId: ctx.state.requestId, ip: ctx.ip };
}
