// Drives the hosted screens the way a browser without JavaScript does: a cookie jar, manual
// redirects, and real form submission (action + every hidden field + what the user types).
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || attributes.some((a) => /^\s*max-age=0/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  clear(): void {
    this.cookies.clear();
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** Replaces a cookie's value, as a test that moves time in what a cookie holds does. */
  set(name: string, value: string): void {
    this.cookies.set(name, value);
  }
}

export interface Page {
  url: string;
  status: number;
  html: string;
  response: Response;
}

export class Browser {
  readonly jar = new CookieJar();

  /** One request, no redirect following. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.jar.header();
    if (cookie) headers.set('cookie', cookie);
    if (!headers.has('accept')) headers.set('accept', 'text/html');
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(response);
    return response;
  }

  /**
   * Follows redirects until a page renders or the URL starts with `stopAt` (the relying party's
   * redirect URI, which nobody serves in these tests). Returns the last response.
   */
  async navigate(url: string, init: RequestInit = {}, stopAt?: string): Promise<Page> {
    let current = url;
    let response = await this.request(current, init);
    for (let hops = 0; response.status >= 300 && response.status < 400 && hops < 20; hops++) {
      current = new URL(response.headers.get('location') as string, current).toString();
      if (stopAt && current.startsWith(stopAt)) return { url: current, status: response.status, html: '', response };
      response = await this.request(current);
    }
    return { url: current, status: response.status, html: await response.text(), response };
  }

  /** Submits the form whose action matches `actionPattern`, with `fields` filled in. */
  async submit(page: Page, actionPattern: RegExp, fields: Record<string, string>, stopAt?: string): Promise<Page> {
    const form = findForm(page.html, actionPattern);
    const body = new URLSearchParams({ ...form.hidden, ...fields });
    return this.navigate(
      new URL(form.action, page.url).toString(),
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      },
      stopAt,
    );
  }
}

export function findForm(html: string, actionPattern: RegExp): { action: string; hidden: Record<string, string> } {
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const action = decode(/action="([^"]*)"/.exec(match[1])?.[1] ?? '');
    if (!actionPattern.test(action)) continue;
    const hidden: Record<string, string> = {};
    for (const input of match[2].matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1];
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
      if (name) hidden[decode(name)] = decode(value);
    }
    return { action, hidden };
  }
  throw new Error(`No form with action matching ${actionPattern} in:\n${html.slice(0, 2000)}`);
}

export function decode(value: string): string {
  return value
    .replaceAll('&#34;', '"')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

/**
 * A browser reached through the one trusted proxy (the server runs with TRUST_PROXY=true), which
 * saw it at `ip` and says so in X-Forwarded-For: each test's traffic counts against its own
 * source in the per-IP limits.
 */
export class ProxiedBrowser extends Browser {
  readonly ip: string;

  constructor(ip: string) {
    super();
    this.ip = ip;
  }

  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', this.ip);
    return super.request(url, { ...init, headers });
  }
}
