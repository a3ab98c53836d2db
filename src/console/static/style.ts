/** The console's stylesheet, served as /assets/console.css (no inline style anywhere: the CSP forbids it). */
export const CONSOLE_CSS = `
:root { --fg: #1d2330; --muted: #5d6678; --line: #d9dde5; --bg: #f6f7f9; --card: #fff; --accent: #2457c5;
  --ok: #1f7a3f; --warn: #a05a00; --bad: #b3261e; --info: #2457c5; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); font-size: 14px; line-height: 1.45; }
header.top { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #1d2330; color: #fff; }
header.top a { color: #dfe6f5; text-decoration: none; }
header.top a.current, header.top a:hover { color: #fff; text-decoration: underline; }
header.top .brand { font-weight: 700; color: #fff; }
header.top .who { margin-left: auto; display: flex; gap: 12px; align-items: center; color: #c5cbd8; }
header.top form { margin: 0; }
main { padding: 18px 24px 40px; max-width: 1400px; }
h1 { font-size: 22px; margin: 4px 0 14px; }
h2 { font-size: 16px; margin: 22px 0 8px; }
a { color: var(--accent); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin-bottom: 14px; }
table.grid { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); }
table.grid th, table.grid td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.grid th { background: #eef1f6; font-weight: 600; white-space: nowrap; }
table.grid tr.selected td { background: #e8effd; }
table.kv th { width: 200px; color: var(--muted); font-weight: 500; }
table.grid td.num, table.grid th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.time { white-space: nowrap; }
#events { font-size: 13px; } #events .mono { font-size: 12px; }
#events th, #events td { padding: 6px 8px; } #events td { vertical-align: baseline; }
#events td:nth-child(-n+4) { white-space: nowrap; }
#events td, .kv td { overflow-wrap: anywhere; }
aside.drawer { position: fixed; top: 0; right: 0; bottom: 0; z-index: 10; width: min(560px, calc(100vw - 48px)); overflow-y: auto;
  padding: 12px 14px; background: var(--bg); border-left: 1px solid var(--line); box-shadow: -8px 0 24px rgba(29, 35, 48, 0.18); }
aside.drawer:empty { display: none; }
aside.drawer .close { float: right; font-size: 13px; font-weight: 400; }
aside.drawer table.kv th { width: 120px; }
.muted { color: var(--muted); }
.mono, code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f1f3f7; border: 1px solid var(--line); padding: 8px 10px; border-radius: 4px; overflow: auto; max-height: 420px; margin: 4px 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid transparent; white-space: nowrap; }
.badge.healthy, .badge.success, .badge.ok { background: #e3f4e9; color: var(--ok); border-color: #b8e0c5; }
.badge.running, .badge.info { background: #e6eefc; color: var(--info); border-color: #bccdf3; }
.badge.held, .badge.skipped, .badge.aborted, .badge.partial, .badge.interrupted { background: #fff3dc; color: var(--warn); border-color: #f0d49a; }
.badge.quarantined, .badge.failing, .badge.failure, .badge.failed, .badge.no { background: #fbe5e3; color: var(--bad); border-color: #f1bbb6; }
.badge.new { background: #eef1f6; color: var(--muted); border-color: var(--line); }
.flash { padding: 10px 14px; border-radius: 6px; margin-bottom: 14px; border: 1px solid; }
.flash.ok { background: #e3f4e9; border-color: #b8e0c5; }
.flash.error { background: #fbe5e3; border-color: #f1bbb6; }
.layout-split { display: grid; grid-template-columns: minmax(0, 5fr) minmax(320px, 3fr); gap: 16px; align-items: start; }
form.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; margin-bottom: 12px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
input, select, button { font: inherit; padding: 5px 8px; border: 1px solid #b9c0cd; border-radius: 4px; background: #fff; }
button { cursor: pointer; background: #eef1f6; }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button.danger { background: var(--bad); color: #fff; border-color: var(--bad); }
.actions { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 8px; }
.actions form { margin: 0; }
progress { width: 220px; height: 14px; vertical-align: middle; }
.progress-line { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.chart { min-height: 260px; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
.steps { list-style: none; padding: 0; margin: 0; }
.steps > li { display: grid; grid-template-columns: 90px 1fr; gap: 10px; padding: 8px 0; border-bottom: 1px solid var(--line); }
.steps > li:last-child { border-bottom: 0; }
.steps .lines { margin: 2px 0 0; padding-left: 18px; color: var(--muted); }
ul.changes { margin: 0; padding-left: 16px; }
.card > h2:first-child { margin-top: 0; }
.diff-old { color: var(--bad); text-decoration: line-through; }
.diff-new { color: var(--ok); }
.login { max-width: 360px; margin: 80px auto; }
.login label { display: block; margin: 10px 0 4px; }
.login input { width: 100%; }
.pager { margin-top: 10px; display: flex; gap: 14px; }
.links { display: flex; gap: 14px; margin: 0 0 14px; }
`;
