import type { ReconcileOutcome, ReconcileReport, StrayMemberLine } from '../../engine/index.js';
import { html, seg, type SafeHtml } from './html.js';
import { actionButton, isAdmin, page, type View } from './layout.js';

function reportTables(r: ReconcileReport): SafeHtml {
  const drift = r.drift.length
    ? html`<table class="grid" id="drift"><thead><tr><th>Source id</th><th>userName</th><th>Attribute</th><th>Pushed</th><th>In the target</th></tr></thead><tbody>${r.drift.map(
        (d) => html`<tr><td>${d.sourceId}</td><td>${d.userName}</td><td><code>${d.path}</code></td><td class="diff-new">${d.pushed ?? '—'}</td><td class="diff-old">${d.actual ?? '—'}</td></tr>`,
      )}</tbody></table>`
    : html`<p class="muted">No value differs from what was pushed.</p>`;
  const vanished = r.vanished.length
    ? html`<table class="grid"><thead><tr><th>Source id</th><th>userName</th><th>Target id</th></tr></thead><tbody>${r.vanished.map(
        (v) => html`<tr><td>${v.sourceId}</td><td>${v.userName}</td><td class="mono">${v.targetId}</td></tr>`,
      )}</tbody></table>`
    : html`<p class="muted">None.</p>`;
  const unmanaged = r.unmanaged.length
    ? html`<table class="grid"><thead><tr><th>Target id</th><th>userName</th><th>Matches source user</th></tr></thead><tbody>${r.unmanaged.map(
        (u) => html`<tr><td class="mono">${u.targetId}</td><td>${u.userName}</td><td>${u.match ?? '—'}</td></tr>`,
      )}</tbody></table>`
    : html`<p class="muted">None.</p>`;
  const groups = r.membersUnchecked
    ? html`<p class="muted">Not checked: this target does not return group members.</p>`
    : r.groupDrift.length
      ? html`<table class="grid"><thead><tr><th>Group</th><th>Missing in the target</th><th>In the target, not pushed</th></tr></thead><tbody>${r.groupDrift.map(
          (g) => html`<tr><td>${g.displayName}</td><td>${g.missing.join(', ') || '—'}</td><td>${g.extra.join(', ') || '—'}</td></tr>`,
        )}</tbody></table>`
      : html`<p class="muted">Every group holds the members pushed.</p>`;
  return html`<p>Read ${r.usersRead} users and ${r.groupsRead} groups from the target.</p>
<h2>Drift (${r.drift.length})</h2>${drift}
<h2>Vanished accounts (${r.vanished.length})</h2>${vanished}
<h2>Unmanaged accounts (${r.unmanaged.length})</h2>${unmanaged}
<h2>Group members</h2>${groups}${r.membersUnchecked ? '' : strayTable(r.strayMembers)}`;
}

const onApply = (m: StrayMemberLine) => (m.onApply === 'remove' ? 'removed' : m.keptBecause === 'protected' ? 'kept (protected)' : 'kept (groups.foreignMembers)');

/** Member values of managed groups that are not managed accounts: dangling ones name nothing, foreign ones an account scimsync does not manage. */
function strayTable(strays: readonly StrayMemberLine[]): SafeHtml {
  const dangling = strays.filter((m) => m.kind === 'dangling').length;
  const title = html`<h2>Members not managed by scimsync (${dangling} dangling, ${strays.length - dangling} foreign)</h2>`;
  if (strays.length === 0) return html`${title}<p class="muted">Every member of a managed group is a managed account.</p>`;
  return html`${title}<table class="grid" id="stray-members"><thead><tr><th>Group</th><th>Member value</th><th>Kind</th><th>Account</th><th>On apply</th></tr></thead><tbody>${strays.map(
    (m) => html`<tr data-kind="${m.kind}"><td>${m.displayName}</td><td class="mono">${m.value}</td><td>${m.kind}</td><td>${m.name ?? '—'}</td><td>${onApply(m)}</td></tr>`,
  )}</tbody></table>`;
}

export interface ReconcilePageInput {
  integration: string;
  report: ReconcileReport | undefined;
  error: string | undefined;
  outcome: ReconcileOutcome | undefined;
}

export function reconcilePage(view: View, input: ReconcilePageInput): string {
  const name = input.integration;
  const base = `/integrations/${seg(name)}/reconcile`;
  const actions = isAdmin(view)
    ? html`<div class="actions">${actionButton(view, { action: `${base}/apply`, label: 'Apply', style: 'danger', confirm: 'Restore the source values in the target now?' })}${actionButton(
        view,
        { action: `${base}/adopt`, label: 'Adopt', confirm: 'Link the unmanaged accounts that match a source user?' },
      )}</div><p class="muted">Apply records what the target holds and runs a cycle that restores the source's values and takes out the members marked removed; Adopt links unmanaged accounts that match a source user.</p>`
    : html`<p class="muted">An admin can apply or adopt.</p>`;
  const content = input.error
    ? html`<div class="flash error">${input.error}</div>`
    : input.report
      ? html`${reportTables(input.report)}${actions}`
      : html`<p>The drift report reads every user and group of the target (GET requests only).</p><form method="get" action="${base}"><input type="hidden" name="run" value="1"><button type="submit" class="primary">Read the target and compare</button></form>`;
  const outcome = input.outcome
    ? html`<div class="flash ok">${input.outcome.mode}: ${input.outcome.corrected} objects recorded as the target holds them, ${input.outcome.adopted} accounts adopted${
        input.outcome.cycle ? html`; the cycle ended ${input.outcome.cycle.outcome}` : ''
      }.</div>`
    : '';
  return page(view, `Reconcile ${name}`, html`<h1>Reconcile ${name}</h1>${outcome}${content}`);
}
