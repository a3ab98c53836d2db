/**
 * The console's own script, served as /assets/console.js: it draws the cycle
 * history with uPlot, asks before a form marked data-confirm is sent, and
 * closes the logs' detail pane in place. Everything else is htmx attributes in
 * the server's HTML.
 */
export const CONSOLE_JS = `
(function () {
  'use strict';
  var colors = { duration: '#1d2330', created: '#1f7a3f', updated: '#2457c5', deprovisioned: '#a05a00', groups: '#7a4fc2', failures: '#b3261e', waits: '#d08a00' };

  function seriesOf(points) {
    var x = [], duration = [], created = [], updated = [], deprov = [], groups = [], failures = [], waits = [];
    points.forEach(function (p) {
      x.push(Date.parse(p.startedAt) / 1000);
      duration.push(p.durationMs === null ? null : p.durationMs / 1000);
      created.push(p.operations.created);
      updated.push(p.operations.updated + p.operations.reactivated);
      deprov.push(p.operations.deactivated + p.operations.deleted);
      groups.push(p.operations.groups + p.operations.memberships);
      failures.push(p.failures);
      waits.push(p.rateLimitWaits);
    });
    return [x, duration, created, updated, deprov, groups, failures, waits];
  }

  function line(label, stroke, scale) {
    return { label: label, stroke: stroke, width: 2, scale: scale, points: { show: true, size: 6 }, spanGaps: false };
  }

  function draw(el) {
    fetch(el.getAttribute('data-history'), { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (points) {
        el.textContent = '';
        if (!points.length) { el.textContent = 'No cycle yet.'; el.setAttribute('data-ready', 'empty'); return; }
        points.sort(function (a, b) { return Date.parse(a.startedAt) - Date.parse(b.startedAt); });
        var opts = {
          width: Math.max(320, el.clientWidth - 16), height: 240,
          scales: { x: { time: true }, s: { auto: true }, ops: { auto: true } },
          series: [
            {},
            line('duration (s)', colors.duration, 's'),
            line('created', colors.created, 'ops'),
            line('updated', colors.updated, 'ops'),
            line('deprovisioned', colors.deprovisioned, 'ops'),
            line('group changes', colors.groups, 'ops'),
            line('failures', colors.failures, 'ops'),
            line('429 waits', colors.waits, 'ops')
          ],
          axes: [{}, { scale: 'ops', label: 'operations' }, { scale: 's', side: 1, label: 'seconds', grid: { show: false } }]
        };
        new window.uPlot(opts, seriesOf(points), el);
        el.setAttribute('data-ready', String(points.length));
      })
      .catch(function (err) { el.textContent = 'The history could not be loaded: ' + err.message; el.setAttribute('data-ready', 'error'); });
  }

  function init() {
    var charts = document.querySelectorAll('[data-history]');
    for (var i = 0; i < charts.length; i++) draw(charts[i]);
  }

  document.addEventListener('submit', function (e) {
    var form = e.target;
    var question = form && form.getAttribute && form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) e.preventDefault();
  });
  // The detail pane: the row it shows is marked; Close (or Esc) empties it and drops ?event= from the address.
  function markSelected() {
    var shown = document.querySelector('#detail [data-event]');
    var rows = document.querySelectorAll('#events tbody tr');
    for (var i = 0; i < rows.length; i++) rows[i].classList.toggle('selected', !!shown && rows[i].getAttribute('data-event') === shown.getAttribute('data-event'));
  }
  function closeDetail() {
    var pane = document.getElementById('detail');
    if (!pane || !pane.firstElementChild) return false;
    pane.replaceChildren();
    markSelected();
    var url = new URL(window.location.href);
    url.searchParams.delete('event');
    window.history.replaceState(window.history.state, '', url.pathname + url.search);
    return true;
  }
  document.addEventListener('click', function (e) {
    var close = e.target && e.target.closest && e.target.closest('[data-close-detail]');
    if (close && closeDetail()) e.preventDefault();
  });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') closeDetail(); });
  document.addEventListener('htmx:afterSwap', function (e) { if (e.target && e.target.id === 'detail') markSelected(); });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
`;
