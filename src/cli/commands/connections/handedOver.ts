// What `connections create` and `update` read in the operator's own process and hand to the
// command (which may run inside the running server, with another working directory): the secret
// from standard input, the files the flags name (certificates, keys, a .p8) and the IdP metadata,
// from a file or fetched from an http(s) URL. Nothing read is ever printed: a problem names the
// flag and the file or URL, never what it holds.
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Values } from '../../command.ts';
import { list } from '../../command.ts';
import { CommandError } from '../../context.ts';
import { READ_KINDS, TYPED_FLAGS } from './flags.ts';

/** Metadata is fetched within this time, or not at all. */
const FETCH_TIMEOUT_MS = 10_000;
/** The most read from one file or URL (IdP metadata with many certificates is tens of kB). */
const MAX_BYTES = 1024 * 1024;

/** One file or URL: its text, or why it could not be had. */
type Read = { source: string; text: string } | { source: string; problem: string };

interface HandedOver {
  /** Standard input, when --client-secret-stdin asked for it. */
  stdin?: string;
  /** What each reading flag named, in the order given. */
  reads: Record<string, Read[]>;
}

/** What the command run gets: standard input, and the texts each reading flag named. */
export interface Gathered {
  stdin?: string;
  texts: Record<string, string[]>;
}

/** In the operator's process: reads what the flags name, for the command's run. */
export async function gatherConnectionInput(values: Values, readStdin: () => Promise<string>): Promise<string> {
  const handed: HandedOver = { reads: {} };
  if (values['client-secret-stdin']) handed.stdin = await readStdin();
  for (const [flag, { kind }] of Object.entries(TYPED_FLAGS)) {
    if (!READ_KINDS.has(kind) || values[flag] === undefined) continue;
    handed.reads[flag] = await Promise.all(
      list(values[flag]).map((source) => (kind === 'document' ? readDocument(source) : readLocalFile(source))),
    );
  }
  return JSON.stringify(handed);
}

/** In the command's run: what was handed over, every problem of every read refused at once. */
export function openHandedOver(command: string, stdin: string, values: Values): Gathered {
  const readingFlags = Object.keys(TYPED_FLAGS).filter((flag) => READ_KINDS.has(TYPED_FLAGS[flag].kind) && values[flag] !== undefined);
  const handed = parseHandedOver(command, stdin);
  const problems: string[] = [];
  const texts: Record<string, string[]> = {};
  for (const flag of readingFlags) {
    const reads = handed.reads[flag];
    if (!reads) throw new CommandError(`${command} reads --${flag} where gatehouse runs; nothing was handed over`);
    for (const read of reads) if ('problem' in read) problems.push(`--${flag}: ${read.problem}`);
    texts[flag] = reads.flatMap((read) => ('text' in read ? [read.text] : []));
  }
  if (problems.length === 1) throw new CommandError(problems[0]);
  if (problems.length) throw new CommandError('Cannot read what the options name', problems);
  return { stdin: handed.stdin, texts };
}

function parseHandedOver(command: string, stdin: string): HandedOver {
  if (!stdin) return { reads: {} };
  try {
    const handed = JSON.parse(stdin) as HandedOver;
    if (handed && typeof handed.reads === 'object') return handed;
  } catch {
    // Told below.
  }
  throw new CommandError(`${command}: what was handed over is not what gatehouse gathers; run the command through gatehouse`);
}

async function readLocalFile(source: string): Promise<Read> {
  const path = resolve(source);
  try {
    if ((await stat(path)).size > MAX_BYTES) return { source, problem: `${source} is larger than 1 MB` };
    return withText(source, await readFile(path, 'utf8'));
  } catch (error) {
    return { source, problem: `cannot read ${source} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` };
  }
}

/** A file, or an http(s) URL (fetched here); any other scheme is a mistake, not a file name. */
function readDocument(source: string): Promise<Read> {
  if (/^https?:\/\//i.test(source)) return fetchDocument(source);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source))
    return Promise.resolve({ source, problem: `${source}: only http and https URLs are fetched` });
  return readLocalFile(source);
}

async function fetchDocument(url: string): Promise<Read> {
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml;q=0.9, */*;q=0.1' },
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      return { source: url, problem: `${url} answered ${response.status} ${response.statusText}`.trimEnd() };
    }
    const text = await cappedText(response);
    return text === undefined ? { source: url, problem: `${url} sent more than 1 MB` } : withText(url, text);
  } catch (error) {
    return { source: url, problem: `cannot fetch ${url} (${fetchFailure(error)})` };
  }
}

/** The body as text, or undefined once it passes MAX_BYTES (the rest is not read). */
async function cappedText(response: Response): Promise<string | undefined> {
  if (Number(response.headers.get('content-length')) > MAX_BYTES) {
    await response.body?.cancel();
    return undefined;
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    if (size > MAX_BYTES) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(read.value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Why a fetch failed, in a few words (undici puts the system's reason in `cause`). */
function fetchFailure(error: unknown): string {
  if ((error as Error).name === 'TimeoutError') return `no answer within ${FETCH_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: NodeJS.ErrnoException }).cause;
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'unknown host',
    ECONNRESET: 'connection reset',
    UND_ERR_SOCKET: 'connection closed',
  };
  return (cause?.code && (reasons[cause.code] ?? cause.code)) || cause?.message || (error as Error).message;
}

const withText = (source: string, text: string): Read => (text.trim() ? { source, text } : { source, problem: `${source} is empty` });
