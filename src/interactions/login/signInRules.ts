// Whether an account may finish a sign-in, whichever way it proved itself (password, emailed
// code, followed link, invitation ticket): not while suspended, not while locked.
import type { User } from '../../accounts/index.ts';

export function isLocked(user: Pick<User, 'locked_until'>): boolean {
  return Boolean(user.locked_until && new Date(user.locked_until).getTime() > Date.now());
}

export function mayFinishSignIn(user: Pick<User, 'suspended_at' | 'locked_until'>): boolean {
  return !user.suspended_at && !isLocked(user);
}
