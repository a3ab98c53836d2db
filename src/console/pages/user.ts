import type { ProvisionResult, ProvisionStep, UserView } from '../../engine/index.js';
import { html, pretty, query, seg, time, type SafeHtml } from './html.js';
import { actionButton, isAdmin, page, resultBadge, when, type View } from './layout.js';

const STEP_LABELS: Readonly<Record<ProvisionStep['status'], string>> = { ok: 'done', no: 'no', failed: 'failed', info: 'info' };

/** The steps of a Provision now, as Entra's on-demand view lists them. */
export function provisionResultCard(r: ProvisionResult): SafeHtml {
  const items = r.steps.map(
    (s) => html`<li data-step="${s.step}" data-status="${s.status}"><span><span class="badge ${s.status}">${STEP_LABELS[s.status]}</span></span>
<div><strong>${s.title}</strong>${s.lines.length ? html`<ul class="lines">${s.lines.map((l) => html`<li>${l}</li>`)}</ul>` : ''}</div></li>`,
  );
  const cycle = r.cycleId ? html` <a class="muted" href="/logs${query({ cycle: r.cycleId })}">events of this run</a>` : '';
  return html`<div class="card" id="provision-result"><h2>Provision now: ${r.sourceId}${cycle}</h2><ol class="steps">${items}</ol></div>`;
}

function kvRows(values: Record<string, unknown>): SafeHtml[] {
  return Object.entries(values).map(([k, v]) => html`<tr><th>${k}</th><td class="mono">${typeof v === 'string' ? v : JSON.stringify(v)}</td></tr>`);
}

export function userPage(view: View, u: UserView, lastProvision: ProvisionResult | undefined): string {
  const name = u.integration;
  const source = u.sourceError
    ? html`<div class="flash error">The source could not be read: ${u.sourceError}</div>`
    : u.source
      ? html`<table class="grid kv" id="source-attributes"><tbody>${kvRows(u.source)}</tbody></table>`
      : html`<p><span class="badge no">not in the source</span> The source no longer holds this user: the next cycle deprovisions the account.</p>`;
  const scope = u.source ? (u.inScope ? html`<span class="badge ok">in scope</span>` : html`<span class="badge no">out of scope</span>`) : '';
  const problems = u.problems.length ? html`<div class="flash error">Not sendable: ${u.problems.join('; ')}</div>` : '';
  const resource = u.resource ? html`<pre id="scim-resource">${pretty(u.resource)}</pre>` : html`<p class="muted">—</p>`;
  const state = u.state
    ? html`<table class="grid kv" id="state-record"><tbody>
<tr><th>Target id</th><td class="mono">${u.state.targetId ?? '(not linked)'}</td></tr>
<tr><th>Status</th><td>${u.state.status}</td></tr>
<tr><th>First pushed</th><td>${time(u.state.createdAt)}</td></tr>
<tr><th>Last pushed</th><td>${time(u.state.updatedAt)}</td></tr>
${kvRows(u.state.attrs)}</tbody></table>`
    : html`<p class="muted">scimsync has not provisioned this user yet.</p>`;
  const groups = u.groups.length ? html`<ul>${u.groups.map((g) => html`<li>${g.displayName} <span class="muted">(${g.sourceId})</span></li>`)}</ul>` : html`<p class="muted">No group.</p>`;
  const events = u.events.length
    ? html`<table class="grid" id="user-events"><thead><tr><th>Time</th><th>Type</th><th>Result</th><th>Summary</th></tr></thead><tbody>${u.events.map(
        (e) => html`<tr><td class="mono">${when(e.time, view.now)}</td><td>${e.type}</td><td>${resultBadge(e.result)}</td><td><a href="/logs${query({ user: u.sourceId, integration: name, event: e.id })}">${e.summary}</a></td></tr>`,
      )}</tbody></table>`
    : html`<p class="muted">No event yet.</p>`;
  const provision = isAdmin(view)
    ? html`<div class="actions">${actionButton(view, {
        action: `/users/${seg(name)}/${seg(u.sourceId)}/provision`,
        label: 'Provision now',
        style: 'primary',
        confirm: `Send ${u.sourceId}'s operations to the target now?`,
      })}<span class="muted">Runs this user's operations now (create, update, or deprovision) and shows each step.</span></div>`
    : html`<p class="muted">An admin can provision this user now.</p>`;
  const shown = lastProvision && lastProvision.integration === name && lastProvision.sourceId === u.sourceId ? provisionResultCard(lastProvision) : '';
  const body = html`<h1>User ${u.sourceId} <span class="muted">in ${name}</span></h1>
${provision}${shown}${problems}
<div class="layout-split"><div>
<h2>Source attributes ${scope}</h2>${source}
<h2>State record</h2>${state}
<h2>Groups</h2>${groups}
</div><div>
<h2>Mapped SCIM resource</h2>${resource}
</div></div>
<h2>Event history</h2>${events}
<p><a href="/logs${query({ user: u.sourceId, integration: name })}">Every event of this user</a></p>`;
  return page(view, `User ${u.sourceId}`, body);
}
