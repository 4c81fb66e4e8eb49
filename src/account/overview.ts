// The account area's landing page: the address the account uses, whether it is verified, and the
// other sections with what each holds.
import type { AccountSection } from './types.ts';
import { renderAccountPage } from './pages.ts';
import { signedInAccount } from './recentSignIn.ts';
import { ACCOUNT_HOME } from './paths.ts';

export function overviewSection(others: () => readonly AccountSection[]): AccountSection {
  return {
    label: 'Overview',
    path: ACCOUNT_HOME,
    routes(router) {
      router.get(ACCOUNT_HOME, async (ctx) => {
        const { user } = signedInAccount(ctx);
        await renderAccountPage(ctx, 'overview', {
          title: 'Your account',
          email: user.email,
          emailVerified: user.email_verified,
          sections: others().map(({ label, path, summary }) => ({ label, path, summary })),
        });
      });
    },
  };
}
