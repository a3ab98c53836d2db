import type { AttributeChange, PlanSummary } from '../../engine/index.js';
import { html, seg, type SafeHtml } from './html.js';
import { page, type View } from './layout.js';

/** Operations shown per kind; the API returns them all. */
const SHOWN_PER_KIND = 500;

const KIND_TITLES: Readonly<Record<string, string>> = {
  'user.create': 'Users to create',
  'user.update': 'Users to update',
  'user.reactivate': 'Users to reactivate',
  'user.deactivate': 'Users to deactivate',
  'user.delete': 'Users to delete',
  'group.create': 'Groups to create',
  'group.update': 'Groups to update',
  'group.members.add': 'Members to add',
  'group.members.remove': 'Members to remove',
  'group.delete': 'Groups to delete',
};

export function changeList(changes: AttributeChange[]): SafeHtml {
  if (changes.length === 0) return html``;
  const items = changes.map((c) => {
    const old = c.old === null ? html`<span class="muted">(none)</span>` : html`<span class="diff-old">${c.old}</span>`;
    const now = c.new === null ? html`<span class="muted">(cleared)</span>` : html`<span class="diff-new">${c.new}</span>`;
    return html`<li><code>${c.path}</code>: ${old} → ${now}</li>`;
  });
  return html`<ul class="changes">${items}</ul>`;
}

export function planPage(view: View, plan: PlanSummary): string {
  const name = plan.integration;
  const hold = plan.hold
    ? html`<div class="flash ${plan.hold.approved ? 'ok' : 'error'}">${plan.hold.approved ? 'Approved mass deprovision: ' : 'Held: '}${plan.hold.message} <a href="/integrations/${seg(name)}#held">Review the held deprovisions</a></div>`
    : '';
  const error = plan.error ? html`<div class="flash error">The plan could not be made: ${plan.error}</div>` : '';
  const sections = plan.groups.map((g) => {
    const rows = g.operations.slice(0, SHOWN_PER_KIND).map((op) => {
      const who = op.kind.startsWith('user.') ? html`<a href="/users/${seg(name)}/${seg(op.sourceId)}">${op.sourceId}</a>` : html`${op.sourceId}`;
      return html`<tr><td>${who}</td><td>${op.label}</td><td>${changeList(op.changes)}${op.note ? html`<span class="muted">${op.note}</span>` : ''}</td></tr>`;
    });
    const more = g.count > SHOWN_PER_KIND ? html`<p class="muted">… and ${g.count - SHOWN_PER_KIND} more (GET /api/integrations/${name}/plan lists them all).</p>` : '';
    return html`<h2 data-kind="${g.kind}">${KIND_TITLES[g.kind] ?? g.kind} <span class="muted">(${g.count})</span></h2>
<table class="grid"><thead><tr><th>Source id</th><th>Name</th><th>Changes (old → new)</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
  });
  const empty = plan.total === 0 && !plan.error ? html`<p>Nothing to send: the target is up to date with the source.</p>` : '';
  const body = html`<h1>Plan preview: ${name}</h1>
<p class="muted">What the next cycle of ${name} would send now, computed from the source and the state without sending anything (scimsync plan).</p>
${error}${hold}<p><strong>${plan.total}</strong> operations.</p>${empty}${sections}`;
  return page(view, `Plan ${name}`, body);
}
