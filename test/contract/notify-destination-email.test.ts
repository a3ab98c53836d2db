import net from 'node:net';
import { rmSync } from 'node:fs';
import { SMTPServer } from 'smtp-server';
import { afterAll } from 'vitest';
import { selfSignedCertificate, tempDir } from '../events/support.js';
import { testNotifyDestination, type NotifyReceiver } from './notify-destination.contract.js';

const dir = tempDir();
const cert = selfSignedCertificate(dir, 'smtp');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const USER = 'scimsync';
const PASSWORD = 'smtp-password-4c1e9a';

interface SmtpReceiver extends NotifyReceiver {
  /** The password the server takes now. */
  password: string;
  /** 451 to every MAIL FROM while set (the server asks to try again later). */
  busy: boolean;
  /** MAIL FROM commands received: one per attempt that logged in. */
  mailFrom: number;
  down(): Promise<void>;
  up(): Promise<void>;
}

/** A mail as its reader sees it: the headers, then the body with its quoted-printable encoding undone (RFC 2045 6.7). */
function readMail(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = raw.slice(0, split);
  const body = raw.slice(split).trimStart();
  if (!/^Content-Transfer-Encoding: quoted-printable/im.test(headers)) return `${headers}\n\n${body}`;
  const decoded = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return `${headers}\n\n${Buffer.from(decoded, 'latin1').toString('utf8')}`;
}

/** An SMTP server with STARTTLS (a throwaway certificate) that requires a login, on 127.0.0.1. */
async function start(): Promise<SmtpReceiver> {
  const mails: string[] = [];
  let server: SMTPServer | undefined;
  let port = 0;
  const listen = async (at: number) => {
    server = new SMTPServer({
      key: cert.key,
      cert: cert.cert,
      logger: false,
      closeTimeout: 100,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, done) {
        if (auth.username === USER && auth.password === receiver.password) done(null, { user: USER });
        else done(new Error('Invalid username or password'));
      },
      onMailFrom(_address, _session, done) {
        receiver.mailFrom++;
        if (receiver.busy) done(Object.assign(new Error('Try again later'), { responseCode: 451 }));
        else done();
      },
      onData(stream, _session, done) {
        let raw = '';
        stream.on('data', (c: Buffer) => (raw += c.toString()));
        stream.on('end', () => {
          mails.push(raw);
          done();
        });
      },
    });
    const s = server;
    await new Promise<void>((resolve) => s.listen(at, '127.0.0.1', resolve));
    port = (s.server.address() as net.AddressInfo).port;
  };
  const close = () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await listen(0);
  const receiver: SmtpReceiver = {
    destination: { email: { to: 'ops@example.com', from: 'scimsync@example.com', smtp: { host: '127.0.0.1', port, auth: { user: USER, password: PASSWORD }, caFile: cert.certFile } } },
    messages: () => mails.map(readMail),
    password: PASSWORD,
    busy: false,
    mailFrom: 0,
    down: close,
    up: () => listen(port),
    close,
  };
  return receiver;
}

/** Greets like an SMTP server, then answers one byte every 100 ms, forever: no socket timeout ever fires. */
async function tarpit() {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.write('220 mail.example.com ESMTP\r\n');
    const drip = setInterval(() => s.write('2'), 100);
    s.on('close', () => {
      clearInterval(drip);
      sockets.delete(s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    destination: { email: { to: 'ops@example.com', from: 'scimsync@example.com', smtp: { host: '127.0.0.1', port, requireTLS: false } } },
    open: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

testNotifyDestination('email (SMTP)', {
  start,
  secrets: [PASSWORD],
  failures: {
    'is down': { begin: (r) => r.down(), end: (r) => r.up(), error: /ECONNREFUSED/ },
    'answers 451 (try again later)': {
      begin: async (r) => void (r.busy = true),
      end: async (r) => void (r.busy = false),
      error: /451/,
      attempts: (r) => r.mailFrom,
    },
    'refuses the login (its password was changed)': {
      begin: async (r) => void (r.password = 'a-new-password-0000'),
      end: async (r) => void (r.password = PASSWORD),
      error: /Invalid login|535/,
    },
  },
  hanging: tarpit,
  // A plain-text mail: the reader sees the source's text as typed, which no mail reader turns into markup.
  literal: {
    shows: ['Subject: [scimsync] payroll-app: cycle failed', '<!channel>', '<b>urgent</b>', '& Co', 'Content-Type: text/plain'],
    never: ['text/html'],
  },
});
