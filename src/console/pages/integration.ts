import type { CyclePoint, EscrowItem, HeldDeprovisions, IntegrationDetail } from '../../engine/index.js';
import { duration, html, plural, query, seg, type SafeHtml } from './html.js';
import { actionButton, isAdmin, page, when, type View } from './layout.js';
import { progressBlock, stateCell } from './overview.js';

/** Cycles the chart shows. */
export const HISTORY_CYCLES = 30;

function historyTable(points: CyclePoint[], now: number): SafeHtml {
  if (points.length === 0) return html`<p class="muted">No cycle yet.</p>`;
  const rows = points.slice(0, 10).map((p) => {
    const o = p.operations;
    return html`<tr><td>${when(p.startedAt, now)}</td><td><span class="badge ${p.outcome ?? 'running'}">${p.outcome ?? 'unfinished'}</span></td>
<td class="num">${duration(p.durationMs)}</td><td class="num">${o.created}</td><td class="num">${o.updated + o.reactivated}</td>
<td class="num">${o.deactivated + o.deleted}</td><td class="num">${o.groups + o.memberships}</td><td class="num">${p.failures}</td>
<td class="num">${p.rateLimitWaits}</td><td><a href="/logs${query({ cycle: p.id })}">events</a></td></tr>`;
  });
  return html`<table class="grid" id="cycles"><thead><tr><th>Started</th><th>Outcome</th><th class="num">Duration</th><th class="num">Created</th><th class="num">Updated</th>
<th class="num">Deprovisioned</th><th class="num">Group changes</th><th class="num">Failures</th><th class="num">429 waits</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
}

function heldSection(view: View, name: string, held: HeldDeprovisions | null): SafeHtml {
  if (!held) return html`<p class="muted">No deprovision is held.</p>`;
  const status = held.approvedAt
    ? html`<span class="badge ok">approved</span> ${when(held.approvedAt, view.now)}: the next cycle applies it.`
    : html`<span class="badge held">awaiting approval</span>`;
  const rows = held.objects.slice(0, 200).map(
    (o) => html`<tr><td>${o.kind}</td><td><a href="/users/${seg(name)}/${seg(o.sourceId)}">${o.sourceId}</a></td><td>${o.userName}</td></tr>`,
  );
  const more = held.objects.length > 200 ? html`<p class="muted">… and ${held.objects.length - 200} more (GET /api/integrations/${name} lists them all).</p>` : '';
  const buttons = isAdmin(view)
    ? html`<div class="actions">${
        held.approvedAt
          ? ''
          : actionButton(view, {
              action: `/integrations/${seg(name)}/approve`,
              label: `Approve ${held.objects.length} deprovisions`,
              style: 'danger',
              confirm: `Let the next cycle deprovision these ${held.objects.length} users?`,
            })
      }${actionButton(view, { action: `/integrations/${seg(name)}/discard`, label: 'Discard' })}</div>`
    : html`<p class="muted">An admin can approve or discard it.</p>`;
  return html`<div class="card" id="held"><p>Held ${when(held.heldAt, view.now)}: <strong>${held.objects.length} users</strong> would be deprovisioned, ${held.reason} (${held.managed} managed). ${status}</p>
<table class="grid"><thead><tr><th>Operation</th><th>Source id</th><th>userName</th></tr></thead><tbody>${rows}</tbody></table>${more}${buttons}</div>`;
}

function escrowSection(name: string, escrow: EscrowItem[], now: number): SafeHtml {
  if (escrow.length === 0) return html`<p class="muted">No operation is failing.</p>`;
  const rows = escrow.map(
    (e) => html`<tr><td>${e.kind}</td><td><a href="/users/${seg(name)}/${seg(e.sourceId)}">${e.sourceId}</a></td>
<td class="num">${e.givenUp ? html`<span class="badge failure">given up</span> ` : ''}${e.cycles}</td><td class="num">${e.attempts}</td>
<td>${when(e.lastFailedAt, now)}</td><td class="mono">${e.lastError}</td></tr>`,
  );
  return html`<table class="grid" id="escrow"><thead><tr><th>Operation</th><th>Source id</th><th class="num">Cycles</th><th class="num">Attempts</th><th>Last failed</th><th>Error</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function integrationPage(view: View, d: IntegrationDetail): string {
  const o = d.overview;
  const name = o.name;
  const quarantine = d.quarantine
    ? html`<div class="card" id="quarantine"><p><span class="badge quarantined">quarantined</span> until ${when(d.quarantine.until, view.now)} (level ${d.quarantine.level}): ${d.quarantine.reason}</p>${
        isAdmin(view)
          ? actionButton(view, { action: `/integrations/${seg(name)}/lift-quarantine`, label: 'Lift quarantine', style: 'primary', confirm: 'Let the next cycle run now?' })
          : html`<p class="muted">An admin can lift it.</p>`
      }</div>`
    : '';
  const body = html`<h1>Integration ${name}</h1>
<div class="links"><a href="/integrations/${seg(name)}/plan">Plan preview</a><a href="/integrations/${seg(name)}/reconcile">Reconcile</a><a href="/logs${query({ integration: name })}">Provisioning logs</a></div>
<div class="card"><table class="kv"><tbody>
<tr><th>State</th><td>${stateCell(o)}</td></tr>
<tr><th>Next cycle</th><td>${when(o.nextCycle, view.now)}</td></tr>
<tr><th>Users in the target</th><td>${o.objects.usersActive} active, ${o.objects.usersInactive} inactive</td></tr>
<tr><th>Groups</th><td>${o.objects.groups}</td></tr>
<tr><th>Escrow</th><td>${plural(o.escrow.size, 'failing operation')}${o.escrow.givenUp ? `, ${o.escrow.givenUp} given up` : ''}</td></tr>
</tbody></table></div>
${quarantine}
<h2>Current or last cycle</h2>
${progressBlock(name, d.progress, o.lastCycle, view.now)}
<h2>Cycle history</h2>
<div class="chart" id="history-chart" data-history="/api/integrations/${seg(name)}/history?cycles=${HISTORY_CYCLES}">Loading the chart…</div>
${historyTable(d.history, view.now)}
<h2>Held deprovisions</h2>
${heldSection(view, name, d.held)}
<h2>Escrow</h2>
${escrowSection(name, d.escrow, view.now)}`;
  return page(view, `Integration ${name}`, body);
}
