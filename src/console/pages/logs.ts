import { EVENT_RESULTS, EVENT_TYPES } from '../../events/types.js';
import type { EventItem, EventPage } from '../../engine/index.js';
import type { EventFilterParams } from '../filters.js';
import { html, plural, pretty, query, seg, time, type SafeHtml } from './html.js';
import { page, resultBadge, type View } from './layout.js';

export interface LogsPageInput {
  /** The filters as typed, to fill the form and keep in links. */
  params: EventFilterParams;
  integrations: string[];
  page: EventPage | undefined;
  error: string | undefined;
  /** The event open in the detail pane. */
  selected: EventItem | undefined;
  /** How long the query took, shown under the table. */
  queryMs: number;
}

function select(name: string, label: string, options: readonly string[], value: string | undefined): SafeHtml {
  const opts = options.map((o) => html`<option value="${o}"${o === value ? html` selected` : ''}>${o}</option>`);
  return html`<label>${label}<select name="${name}"><option value="">any</option>${opts}</select></label>`;
}

function textInput(name: string, label: string, value: string | undefined, placeholder: string): SafeHtml {
  return html`<label>${label}<input name="${name}" value="${value ?? ''}" placeholder="${placeholder}"></label>`;
}

/** Values of the event's detail worth a line of their own, when present. */
function detailFields(e: EventItem): SafeHtml[] {
  const d = e.detail;
  const rows: SafeHtml[] = [];
  const row = (label: string, value: unknown) => {
    if (value === undefined || value === null || value === '') return;
    rows.push(html`<tr><th>${label}</th><td class="mono">${typeof value === 'string' ? value : JSON.stringify(value)}</td></tr>`);
  };
  if (Array.isArray(d.changed)) row('Changed attributes', (d.changed as unknown[]).map(String).join(', ') || '(none)');
  row('HTTP status', d.status);
  row('scimType', d.scimType);
  row('Target detail', d.scimDetail ?? (typeof d.detail === 'string' ? d.detail : undefined));
  row('Error', d.error);
  row('Attempts', d.attempts);
  row('Duration', typeof d.durationMs === 'number' ? `${d.durationMs} ms` : undefined);
  row('Request id', d.requestId);
  return rows;
}

/**
 * The detail pane of one event: its fields, what changed, the target's answer, links to its user and cycle.
 * `closeHref` is the list without it (the console's script closes the pane in place).
 */
export function eventDetail(e: EventItem, closeHref = '/logs'): SafeHtml {
  const user = e.sourceId
    ? html`<a href="/users/${seg(e.integration)}/${seg(e.sourceId)}">${e.sourceId}</a> · <a href="/logs${query({ user: e.sourceId, integration: e.integration })}">every event of this user</a>`
    : html`<span class="muted">—</span>`;
  return html`<div class="card" id="event-detail" data-event="${e.id}">
<h2>Event ${e.id} <a class="close" href="${closeHref}" data-close-detail title="Close (Esc)">Close</a></h2>
<table class="grid kv"><tbody>
<tr><th>Time</th><td>${time(e.time)}</td></tr>
<tr><th>Integration</th><td><a href="/integrations/${seg(e.integration)}">${e.integration}</a></td></tr>
<tr><th>Type</th><td>${e.type}</td></tr>
<tr><th>Result</th><td>${resultBadge(e.result)}</td></tr>
<tr><th>Summary</th><td>${e.summary}</td></tr>
<tr><th>Source id</th><td>${user}</td></tr>
<tr><th>Target id</th><td class="mono">${e.targetId ?? '—'}</td></tr>
<tr><th>Cycle</th><td>${e.cycleId ? html`<a class="mono" href="/logs${query({ cycle: e.cycleId })}">${e.cycleId}</a>` : '—'}</td></tr>
${detailFields(e)}
</tbody></table>
<h2>Detail</h2><pre>${pretty(e.detail)}</pre></div>`;
}

export function logsPage(view: View, input: LogsPageInput): string {
  const p = input.params;
  const keep = { integration: p.integration, user: p.user, type: p.type, result: p.result, since: p.since, until: p.until, cycle: p.cycle, limit: p.limit };
  const form = html`<form class="filters" method="get" action="/logs">
${select('integration', 'Integration', input.integrations, p.integration)}
${textInput('user', 'User (source id, target id or userName)', p.user, 'ada@example.com')}
${select('type', 'Type', EVENT_TYPES, p.type)}
${select('result', 'Result', EVENT_RESULTS, p.result)}
${textInput('since', 'Since', p.since, '1h, 7d or a date')}
${textInput('until', 'Until', p.until, '2025-01-31')}
${textInput('cycle', 'Cycle', p.cycle, 'cycle id')}
<button type="submit" class="primary">Filter</button> <a href="/logs">Clear</a>
</form>`;
  const error = input.error ? html`<div class="flash error">${input.error}</div>` : '';
  const events = input.page?.events ?? [];
  const rows = events.map((e) => {
    const link = `/logs${query({ ...keep, after: p.after, event: e.id })}`;
    return html`<tr class="${input.selected?.id === e.id ? 'selected' : ''}" data-event="${e.id}">
<td class="mono time">${time(e.time)}</td><td>${e.integration}</td><td class="mono">${e.type}</td><td>${resultBadge(e.result)}</td>
<td class="mono">${e.sourceId ?? ''}</td><td><a href="${link}" hx-get="/events/${e.id}" hx-target="#detail" hx-push-url="${link}">${e.summary}</a></td></tr>`;
  });
  const table = events.length
    ? html`<table class="grid" id="events"><thead><tr><th>Time</th><th>Integration</th><th>Type</th><th>Result</th><th>Source id</th><th>Summary</th></tr></thead><tbody>${rows}</tbody></table>`
    : html`<p class="muted">No event matches.</p>`;
  const next = input.page?.next;
  const pager = html`<div class="pager">${p.after ? html`<a href="/logs${query(keep)}">Newest</a>` : ''}${
    next ? html`<a href="/logs${query({ ...keep, after: next })}" id="older">Older events →</a>` : ''
  }<span class="muted">${plural(events.length, 'event')}, newest first · ${input.queryMs} ms</span></div>`;
  // The detail opens over the table's right side, so that the table keeps the page's whole width.
  const detail = input.selected ? eventDetail(input.selected, `/logs${query({ ...keep, after: p.after })}`) : '';
  const body = html`<h1>Provisioning logs</h1>${form}${error}
${table}${pager}<aside class="drawer" id="detail">${detail}</aside>`;
  return page(view, 'Provisioning logs', body);
}

