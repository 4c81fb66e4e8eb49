// Renders the hosted screens: each page template is wrapped in views/layout.ejs. Templates are
// compiled once and cached; ejs escapes every <%= %> output, so user input is safe to echo back.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import ejs from 'ejs';

const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export interface PageData {
  title: string;
  [key: string]: unknown;
}

export async function renderPage(template: string, data: PageData): Promise<string> {
  const options = { cache: true, async: true, root: VIEWS_DIR };
  const body = await ejs.renderFile(join(VIEWS_DIR, `${template}.ejs`), data, options);
  return ejs.renderFile(join(VIEWS_DIR, 'layout.ejs'), { ...data, body }, options);
}
