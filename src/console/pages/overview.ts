import type { CycleProgress, CycleSummary, IntegrationOverview } from '../../engine/index.js';
import { duration, html, plural, seg, type SafeHtml } from './html.js';
import { page, stateBadge, when, type View } from './layout.js';

/** How often a live part asks again: quickly while a cycle runs, slowly otherwise. */
const POLL_RUNNING = 'every 1s';
const POLL_IDLE = 'every 2s';

/** The state cell of an integration, which keeps itself current (htmx polling). */
export function stateCell(o: IntegrationOverview): SafeHtml {
  const trigger = o.state.kind === 'running' ? POLL_RUNNING : POLL_IDLE;
  const bar = o.state.kind === 'running' ? progressLine(o.state.progress) : '';
  return html`<div class="state" id="state-${o.name}" hx-get="/integrations/${seg(o.name)}/state" hx-trigger="${trigger}" hx-swap="outerHTML">${stateBadge(o.state)}${bar}</div>`;
}

/** A running cycle: a bar, the counts, the time left. */
export function progressLine(p: CycleProgress): SafeHtml {
  const of = p.total === null ? '' : ` / ${p.total}`;
  const bar = p.total === null ? html`<progress></progress>` : html`<progress value="${p.done}" max="${Math.max(p.total, 1)}"></progress>`;
  const eta = p.etaMs === null ? '' : html` · about ${duration(p.etaMs)} left`;
  const waits = p.rateLimitWaits > 0 ? html` · ${plural(p.rateLimitWaits, 'wait')} on 429` : '';
  return html`<div class="progress-line">${bar}<span class="progress-count" data-done="${p.done}">${p.done}${of} operations</span>${
    p.failed > 0 ? html` · <span class="badge failure">${p.failed} failed</span>` : ''
  }${waits}${eta}</div>`;
}

/** The integration page's progress block: the running cycle, else the last one; it polls for the next. */
export function progressBlock(name: string, progress: CycleProgress | null, last: CycleSummary | null, now: number): SafeHtml {
  const trigger = progress ? POLL_RUNNING : POLL_IDLE;
  const inner = progress
    ? html`<div><span class="badge running">running</span> cycle <span class="mono">${progress.cycleId ?? ''}</span>, started ${when(progress.startedAt, now)}</div>${progressLine(progress)}`
    : last
      ? html`<div>No cycle running. Last cycle: <span class="badge ${last.outcome ?? 'new'}">${last.outcome ?? 'unfinished'}</span>, started ${when(last.startedAt, now)}, took ${duration(last.durationMs)}.</div>`
      : html`<div class="muted">No cycle has run yet.</div>`;
  return html`<div class="card" id="progress" hx-get="/integrations/${seg(name)}/progress" hx-trigger="${trigger}" hx-swap="outerHTML">${inner}</div>`;
}

function lastCycleCell(c: CycleSummary | null, now: number): SafeHtml {
  if (!c) return html`<span class="muted">none yet</span>`;
  return html`<span class="badge ${c.outcome ?? 'running'}">${c.outcome ?? 'unfinished'}</span> ${when(c.startedAt, now)}<br><span class="muted">took ${duration(c.durationMs)}</span>`;
}

export function overviewPage(view: View, integrations: IntegrationOverview[]): string {
  const rows = integrations.map(
    (o) => html`<tr data-integration="${o.name}">
<td><a href="/integrations/${seg(o.name)}"><strong>${o.name}</strong></a></td>
<td>${stateCell(o)}</td>
<td>${lastCycleCell(o.lastCycle, view.now)}</td>
<td>${when(o.nextCycle, view.now)}</td>
<td class="num">${o.objects.usersActive}</td>
<td class="num">${o.objects.usersInactive}</td>
<td class="num">${o.objects.groups}</td>
<td class="num">${o.escrow.size}${o.escrow.givenUp ? html` <span class="muted">(${o.escrow.givenUp} given up)</span>` : ''}</td>
</tr>`,
  );
  const body = html`<h1>Integrations</h1>
<table class="grid" id="integrations">
<thead><tr><th>Integration</th><th>State</th><th>Last cycle</th><th>Next cycle</th><th class="num">Users active</th><th class="num">Users inactive</th><th class="num">Groups</th><th class="num">Escrow</th></tr></thead>
<tbody>${rows}</tbody>
</table>
<p class="muted">Each integration's state updates by itself. Open one for its cycle history, escrow, held deprovisions and actions.</p>`;
  return page(view, 'Overview', body);
}
