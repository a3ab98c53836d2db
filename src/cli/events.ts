import { Writable } from 'node:stream';
import { loadConfig } from '../config/load.js';
import { EventLog, eventListingFormat, eventQuery, lineFormat, writeEvents } from '../engine/index.js';
import type { EventRecord, ExportFormat } from '../engine/index.js';
import type { ExitCode } from '../errors.js';
import { escapeControl } from '../redact.js';
import { drained, processIo, type Io } from '../io.js';

export interface EventsOptions {
  config?: string;
  integration?: string;
  type?: string;
  result?: string;
  user?: string;
  since?: string;
  until?: string;
  cycle?: string;
  after?: string;
  limit?: string;
  json?: boolean;
  format?: string;
  follow?: boolean;
}

/** `scimsync events`: the audit log, streamed; `--follow` keeps printing new events until interrupted. */
export async function eventsCommand(options: EventsOptions, io: Io, signal?: AbortSignal): Promise<ExitCode> {
  const query = eventQuery(options);
  const listing = eventListingFormat(options.format, options.json ?? false);
  const { config } = loadConfig(options.config, io.env);
  const log = EventLog.open(config);
  const stop = new AbortController();
  signal?.addEventListener('abort', () => stop.abort(), { once: true });
  const onSignal = () => stop.abort();
  if (options.follow && io.handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    const stdout = new Output(io);
    const printer = listing === 'table' ? new TablePrinter(stdout) : new ExportPrinter(listing, stdout);
    // Listed up to the newest event now, and followed from there: nothing twice, nothing missed.
    const lastId = options.follow ? log.lastEventId() : undefined;
    await printer.print(log.list(query, lastId));
    if (lastId === undefined) return 0;
    for await (const batch of log.follow(query, lastId, { signal: stop.signal, ended: () => printer.closed })) await printer.print(batch);
    return 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    log.close();
  }
}

interface Printer {
  print(rows: Iterable<EventRecord>): Promise<void>;
  /** The reader went away (a pipe into `head`): nothing more to print. */
  readonly closed: boolean;
}

/** Bytes gathered before one write to stdout. */
const CHUNK = 65_536;

/**
 * Stdout for a listing: text written in chunks, back-pressure honoured, and a reader that
 * went away (EPIPE) taken as the end of the listing, not as an error.
 */
class Output {
  readonly out: Writable;
  private gone = false;
  private failure: Error | undefined;

  constructor(io: Io) {
    this.out = io === processIo ? process.stdout : linesTo(io);
    // Kept for the process's life: a late EPIPE after the listing is no crash either.
    this.out.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') this.gone = true;
      else this.failure ??= err;
    });
  }

  get closed(): boolean {
    return this.gone || this.out.destroyed;
  }

  async write(text: string): Promise<void> {
    if (this.closed || text === '') return;
    const ok = this.out.write(text);
    // A turn of the event loop between chunks: an EPIPE is seen, and the listing stops.
    await (ok ? new Promise<void>((resolve) => setImmediate(resolve)) : drained(this.out));
    if (this.failure) throw this.failure;
  }
}

/** Rows seen before the table's column widths are set; later rows are padded to them. */
const TABLE_SAMPLE = 500;
const HEADERS = ['TIME', 'INTEGRATION', 'TYPE', 'RESULT', 'SOURCE ID', 'SUMMARY'];

/** The aligned table, streamed: widths from the first rows, the rest printed as they come. */
class TablePrinter implements Printer {
  private widths: number[] | undefined;
  private chunk = '';

  constructor(private readonly output: Output) {}

  get closed(): boolean {
    return this.output.closed;
  }

  async print(rows: Iterable<EventRecord>): Promise<void> {
    let sample: string[][] | undefined = this.widths ? undefined : [];
    for (const e of rows) {
      if (this.output.closed) break;
      // Ids and summaries carry source and target values: each row stays one line.
      const cells = [e.time.replace('T', ' ').slice(0, 19), e.integration, e.type, e.result, e.sourceId ?? '', e.summary].map(escapeControl);
      if (!sample) this.line(cells);
      else if (sample.push(cells) >= TABLE_SAMPLE) sample = this.start(sample);
      if (this.chunk.length >= CHUNK) await this.flush();
    }
    if (sample) this.start(sample);
    await this.flush();
  }

  private start(sample: string[][]): undefined {
    this.widths = HEADERS.map((h, i) => Math.max(h.length, ...sample.map((r) => r[i]!.length)));
    this.line(HEADERS);
    for (const cells of sample) this.line(cells);
    return undefined;
  }

  private line(cells: string[]): void {
    this.chunk += `${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(this.widths![i]!))).join('  ').trimEnd()}\n`;
  }

  private async flush(): Promise<void> {
    const text = this.chunk;
    this.chunk = '';
    await this.output.write(text);
  }
}

/** NDJSON or CSV (forward/format.ts): the listing by writeEvents, followed events as they come. */
class ExportPrinter implements Printer {
  private started = false;
  private gone = false;

  constructor(
    private readonly format: ExportFormat,
    private readonly output: Output,
  ) {}

  get closed(): boolean {
    return this.gone || this.output.closed;
  }

  async print(rows: Iterable<EventRecord>): Promise<void> {
    if (this.closed) return;
    if (!this.started) {
      this.started = true;
      this.gone = (await writeEvents(rows, { format: this.format, out: this.output.out })).closed;
      return;
    }
    // Without a second header.
    const { line } = lineFormat(this.format);
    let chunk = '';
    for (const r of rows) chunk += line(r);
    await this.output.write(chunk);
  }
}

/** A stream that hands each complete line (without its LF) to `io.out`: output in-process, as the CLI's other lines. */
function linesTo(io: Io): Writable {
  let rest = '';
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop()!;
      for (const l of lines) io.out(l);
      done();
    },
    final(done) {
      if (rest) io.out(rest);
      done();
    },
  });
}
