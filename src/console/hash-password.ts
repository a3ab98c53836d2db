import { UsageError } from '../errors.js';
import { hashPassword, hashToken, newApiToken } from './passwords.js';

/** A console password shorter than this is refused: the hash is only as strong as what it hides. */
export const MIN_PASSWORD_LENGTH = 10;

/** The terminal or pipe the helper reads from (process.stdin, or a stream in tests). */
export interface PasswordInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

export interface HashPasswordIo {
  input: PasswordInput;
  /** The hash (or the token and its hash) goes here: stdout. */
  out: (line: string) => void;
  /** Prompts go here, so that stdout holds only the hash: stderr. */
  prompt: (text: string) => void;
}

export interface HashPasswordOptions {
  /** Make an API token instead: prints a new token and the hash that goes in http.auth.apiTokens. */
  token?: boolean;
}

/** Reads everything from a pipe; the last line break is not part of the password. */
async function readPipe(input: PasswordInput): Promise<string> {
  let text = '';
  for await (const chunk of input) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  return text.replace(/\r?\n$/, '');
}

/** Reads one line from a terminal with echo off; Ctrl-C or Ctrl-D give up. */
function readHidden(input: PasswordInput, prompt: (text: string) => void, label: string): Promise<string> {
  prompt(label);
  return new Promise((resolve, reject) => {
    let text = '';
    input.setRawMode?.(true);
    input.resume();
    const done = (err?: Error) => {
      input.removeListener('data', onData);
      input.setRawMode?.(false);
      input.pause();
      prompt('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new UsageError('console hash-password: cancelled'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    input.on('data', onData);
  });
}

/**
 * `scimsync console hash-password`: reads a password (twice, without echo, from
 * a terminal; once from a pipe) and prints its `scrypt$...` hash for
 * `http.auth.users[].passwordHash`. With `token`, prints a new API token and
 * the `sha256$...` hash for `http.auth.apiTokens[].hash`.
 */
export async function hashPasswordCommand(options: HashPasswordOptions, io: HashPasswordIo): Promise<void> {
  if (options.token) {
    const token = newApiToken();
    io.prompt('The token is shown once: give it to the script that calls the API; the hash goes in http.auth.apiTokens[].hash.\n');
    io.out(`token: ${token}`);
    io.out(`hash:  ${hashToken(token)}`);
    return;
  }
  let password: string;
  if (io.input.isTTY) {
    password = await readHidden(io.input, io.prompt, 'Password: ');
    const again = await readHidden(io.input, io.prompt, 'Again: ');
    if (again !== password) throw new UsageError('console hash-password: the two passwords differ');
  } else {
    password = await readPipe(io.input);
  }
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new UsageError(`console hash-password: a console password needs at least ${MIN_PASSWORD_LENGTH} characters, got ${password.length}`);
  }
  io.out(await hashPassword(password));
}
