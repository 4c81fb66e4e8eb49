// Which language to show declared text in (labels, help, document titles written per language in
// config/): the relying party's ui_locales first, then the browser's Accept-Language, then
// English, then whatever the text has.
import type { Context } from 'koa';

/** Text in one language, or keyed by BCP 47 tag. */
export type DeclaredText = string | Record<string, string>;

/** The languages to try, best first (lower case tags). */
export function preferredLanguages(ctx: Context, uiLocales?: unknown): string[] {
  const fromClient = typeof uiLocales === 'string' ? uiLocales.split(' ').filter(Boolean) : [];
  return [...fromClient, ...ctx.acceptsLanguages()].filter((tag) => tag !== '*').map((tag) => tag.toLowerCase());
}

/** The text in the first preferred language it has (fr-CA falls back to fr), else English, else its first. */
export function localized(text: DeclaredText, languages: readonly string[]): string {
  if (typeof text === 'string') return text;
  const entries = Object.entries(text).map(([tag, value]) => [tag.toLowerCase(), value] as const);
  for (const language of [...languages, 'en']) {
    const exact = entries.find(([tag]) => tag === language);
    if (exact) return exact[1];
    const base = entries.find(([tag]) => tag === language.split('-')[0]);
    if (base) return base[1];
  }
  return entries[0][1];
}
