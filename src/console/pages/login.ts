import { CSRF_FIELD } from '../auth.js';
import { html } from './html.js';

const HEAD = html`<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/assets/console.css">`;

/** The login form; `token` ties it to this browser (login CSRF). */
export function loginPage(options: { token: string; next: string; error: string | undefined; name: string }): string {
  const error = options.error ? html`<div class="flash error" role="alert">${options.error}</div>` : '';
  return html`<!doctype html>
<html lang="en"><head>${HEAD}<title>Log in · scimsync</title></head>
<body><main><div class="card login">
<h1>scimsync console</h1>${error}
<form method="post" action="/login">
<input type="hidden" name="${CSRF_FIELD}" value="${options.token}">
<input type="hidden" name="next" value="${options.next}">
<label for="name">User</label><input id="name" name="name" autocomplete="username" value="${options.name}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions"><button type="submit" class="primary">Log in</button></div>
</form></div></main></body></html>`.text;
}

/** A page for an error the user can act on (not found, bad filter), without the top bar when there is no session. */
export function errorPage(title: string, message: string): string {
  return html`<!doctype html>
<html lang="en"><head>${HEAD}<title>${title} · scimsync</title></head>
<body><main><div class="card"><h1>${title}</h1><p>${message}</p><p><a href="/">Back to the overview</a></p></div></main></body></html>`.text;
}
