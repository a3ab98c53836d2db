import type { Actor, IntegrationState } from '../../engine/index.js';
import type { Flash } from '../auth.js';
import { CSRF_FIELD, CSRF_HEADER } from '../auth.js';
import { duration, html, relative, time, type SafeHtml } from './html.js';

/** What every page needs to know of the request. */
export interface View {
  actor: Actor;
  /** The session's CSRF token; null for an API token (which renders no page). */
  csrf: string | null;
  /** Whether logins exist (a logout button), or the console is open on loopback. */
  authRequired: boolean;
  path: string;
  flash: Flash | undefined;
  now: number;
}

/** htmx settings: no eval, no inline styles of its own (the CSP allows neither), requests only to this console. */
const HTMX_CONFIG = JSON.stringify({ includeIndicatorStyles: false, allowEval: false, allowScriptTags: false, selfRequestsOnly: true, historyCacheSize: 0 });

const NAV: readonly { href: string; label: string }[] = [
  { href: '/', label: 'Overview' },
  { href: '/logs', label: 'Provisioning logs' },
];

export function isAdmin(view: View): boolean {
  return view.actor.role === 'admin';
}

/** A whole page: the top bar, the flash message, the body. */
export function page(view: View, title: string, body: SafeHtml): string {
  // htmx sends the CSRF token with every request it makes, from this attribute (no inline script).
  const headers = view.csrf ? html` hx-headers="${JSON.stringify({ [CSRF_HEADER]: view.csrf })}"` : '';
  const nav = NAV.map((n) => {
    const current = n.href === '/' ? view.path === '/' : view.path.startsWith(n.href);
    return html`<a href="${n.href}" class="${current ? 'current' : ''}">${n.label}</a>`;
  });
  const who =
    view.actor.via === 'loopback'
      ? html`<span title="http.auth is not set: the console is open to this machine only">local access (${view.actor.role})</span>`
      : html`<span>${view.actor.name} (${view.actor.role})</span>`;
  const logout = view.authRequired && view.csrf ? html`<form method="post" action="/logout">${csrfField(view)}<button type="submit">Log out</button></form>` : '';
  const flash = view.flash ? html`<div class="flash ${view.flash.kind}" role="status">${view.flash.text}</div>` : '';
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content="${HTMX_CONFIG}">
<title>${title} · scimsync</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/console.css">
<script src="/assets/htmx.min.js" defer></script>
<script src="/assets/uPlot.iife.min.js" defer></script>
<script src="/assets/console.js" defer></script>
</head>
<body${headers}>
<header class="top"><a class="brand" href="/">scimsync console</a>${nav}<div class="who">${who}${logout}</div></header>
<main>${flash}${body}</main>
</body>
</html>`.text;
}

/** The hidden field that carries the session's CSRF token in a form. */
export function csrfField(view: View): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${view.csrf ?? ''}">`;
}

/** A form with one button that POSTs to `action` (an admin action). */
export function actionButton(view: View, options: { action: string; label: string; style?: 'primary' | 'danger'; confirm?: string }): SafeHtml {
  return html`<form method="post" action="${options.action}" data-confirm="${options.confirm}">${csrfField(view)}<button type="submit" class="${options.style ?? ''}">${options.label}</button></form>`;
}

/** The badge of an integration's state, with what matters about it. */
export function stateBadge(state: IntegrationState): SafeHtml {
  switch (state.kind) {
    case 'running':
      return html`<span class="badge running">running</span>`;
    case 'quarantined':
      return html`<span class="badge quarantined">quarantined</span> <span class="muted">${duration(state.msLeft)} left: ${state.reason}</span>`;
    case 'held':
      return html`<span class="badge held">held</span> <span class="muted">${state.deprovisions} deprovisions ${state.approvedAt ? 'approved' : 'await approval'}</span>`;
    case 'failing':
      return html`<span class="badge failing">failing</span> <span class="muted">${state.reason}</span>`;
    case 'healthy':
      return html`<span class="badge healthy">healthy</span>`;
    case 'new':
      return html`<span class="badge new">no cycle yet</span>`;
  }
}

/** A time with how long ago it was. */
export function when(iso: string | null | undefined, now: number): SafeHtml {
  if (!iso) return html`<span class="muted">—</span>`;
  return html`<span title="${iso}">${time(iso)}</span> <span class="muted">(${relative(iso, now)})</span>`;
}

export function resultBadge(result: string): SafeHtml {
  return html`<span class="badge ${result}">${result}</span>`;
}
