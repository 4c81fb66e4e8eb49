// A browser without JavaScript for the password sign-in measurement: its own keep-alive
// connection, a cookie jar, manual redirects and form posts, over node:http (fetch would replace
// the Host header: we connect to 127.0.0.1 but must name the issuer's host, as load.ts does).
// Forms are read with the tests' findForm, so the bench posts what a browser would.
import { Agent, request as httpRequest } from 'node:http';
import { findForm } from '../test/helpers/browserForm.ts';
import type { ServerUnderTest } from './scenarios.ts';

export interface Answer {
  status: number;
  /** Where a redirect points, resolved against the issuer. */
  location?: URL;
  html: string;
  /** The path (and query) the answer came from, on the server under test. */
  path: string;
}

export class FormBrowser {
  private readonly cookies = new Map<string, string>();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private readonly server: ServerUnderTest;
  private readonly host: string;
  /** The address the trusted proxy says this browser has (X-Forwarded-For); it may move. */
  forwardedFor: string | undefined;

  constructor(server: ServerUnderTest, forwardedFor?: string) {
    this.server = server;
    this.host = new URL(server.issuer).host;
    this.forwardedFor = forwardedFor;
  }

  /** One request, no redirect followed. */
  send(method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<Answer> {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    const headers: Record<string, string> = { host: this.host, accept: 'text/html' };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (this.forwardedFor) headers['x-forwarded-for'] = this.forwardedFor;
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = httpRequest(this.server.url + path, { method, headers, agent: this.agent }, (res) => {
        this.storeCookies(res.headers['set-cookie'] ?? []);
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const { location } = res.headers;
          resolve({
            status: res.statusCode ?? 0,
            location: location ? new URL(location, this.server.issuer) : undefined,
            html: Buffer.concat(chunks).toString('utf8'),
            path,
          });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /**
   * Follows redirects from `answer` while they stay on the server under test; returns the page
   * that renders, or the redirect that leaves (to the client's redirect URI).
   */
  async follow(answer: Answer): Promise<Answer> {
    let current = answer;
    for (let hops = 0; current.status >= 300 && current.status < 400 && current.location; hops++) {
      if (hops === 10) throw new Error(`more than 10 redirects from ${answer.path}`);
      if (current.location.origin !== new URL(this.server.issuer).origin) return current;
      current = await this.send('GET', current.location.pathname + current.location.search);
    }
    return current;
  }

  /** Opens `path` and follows where it leads. */
  async open(path: string): Promise<Answer> {
    return this.follow(await this.send('GET', path));
  }

  /** Posts the page's form whose action matches, with its hidden fields and `fields`; follows nothing. */
  post(page: Answer, action: RegExp, fields: Record<string, string>): Promise<Answer> {
    const form = findForm(page.html, action);
    const target = new URL(form.action, new URL(page.path, this.server.issuer));
    return this.send('POST', target.pathname + target.search, { ...form.hidden, ...fields });
  }

  close(): void {
    this.agent.destroy();
  }

  // Keyed by name alone, as the tests' jar: oidc-provider's path-scoped cookies have distinct names.
  private storeCookies(headers: string[]): void {
    for (const header of headers) {
      const [pair, ...attributes] = header.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      const expired = attributes.some((a) => /^\s*(expires=Thu, 01 Jan 1970|max-age=0)/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}
