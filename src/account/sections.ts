// The account area's sections, in navigation order. A new one (Profile, Sessions, Connected
// apps, Data) is one line here, its module and its view.
import type { AccountSection } from './types.ts';
import { overviewSection } from './overview.ts';
import { profileSection } from './profile.ts';
import { securitySection } from './security/index.ts';
import { privacySection } from './privacy.ts';

const PAGES: readonly AccountSection[] = [profileSection, securitySection, privacySection];

export const SECTIONS: readonly AccountSection[] = [overviewSection(() => PAGES), ...PAGES];

/** The section a path belongs to: the one whose path is its longest prefix. */
export function sectionOf(path: string): AccountSection | undefined {
  return SECTIONS.filter((s) => path === s.path || path.startsWith(`${s.path}/`)).sort((a, b) => b.path.length - a.path.length)[0];
}
