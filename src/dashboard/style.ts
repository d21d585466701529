/** The dashboard's and the sign-in page's stylesheet (served at /dashboard/assets/dashboard.css). */
export const STYLESHEET = `
:root {
  --bg: #f4f6f8;
  --card: #ffffff;
  --ink: #1f2328;
  --muted: #59636e;
  --line: #d8dee4;
  --soft: #eef1f4;
  --accent: #1971c2;
  --ok: #2b8a3e;
  --warn: #e67700;
  --bad: #c92a2a;
  --radius: 10px;
  color-scheme: light;
}
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body {
  background: var(--bg);
  color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
h1, h2, h3 { margin: 0; font-weight: 600; }
h1 { font-size: 18px; letter-spacing: 0.2px; }
h2 { font-size: 15px; }
h3 { font-size: 13px; color: var(--muted); margin: 14px 0 6px; text-transform: uppercase; letter-spacing: 0.4px; }
h2 small { font-weight: 400; color: var(--muted); font-size: 12px; margin-left: 6px; }
button {
  font: inherit; border: 1px solid var(--line); background: var(--card); color: var(--ink);
  border-radius: 6px; padding: 5px 12px; cursor: pointer;
}
button:hover { border-color: var(--accent); color: var(--accent); }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button.primary:hover { background: #1864ab; color: #fff; }
button.link {
  border: 0; background: none; padding: 0; color: var(--accent); cursor: pointer; font: inherit;
  font-variant-numeric: tabular-nums;
}
button.link:hover { text-decoration: underline; }
input {
  font: inherit; border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; min-width: 240px;
  background: #fff; color: var(--ink);
}
input:focus, button:focus-visible, tr:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.muted { color: var(--muted); }
.error { color: var(--bad); font-weight: 500; }

.top {
  display: flex; align-items: center; gap: 14px; padding: 12px 24px; background: #111827; color: #f8f9fa;
}
.top .spacer { flex: 1; }
.top .who { color: #ced4da; font-size: 13px; }
.top button { background: transparent; color: #f8f9fa; border-color: #495057; }
.top button:hover { border-color: #f8f9fa; color: #fff; }
.live {
  display: inline-flex; align-items: center; gap: 6px; font-size: 12px; padding: 2px 10px; border-radius: 999px;
  background: #343a40; color: #dee2e6;
}
.live::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: #adb5bd; }
.live[data-state="live"]::before { background: #40c057; }
.live[data-state="reconnecting"]::before, .live[data-state="offline"]::before { background: #fa5252; }

main { padding: 18px 24px 40px; max-width: 1600px; margin: 0 auto; }
.note { margin: 0 0 14px; color: var(--muted); font-size: 12.5px; }
.grid { display: grid; gap: 16px; margin-bottom: 16px; }
.grid.cards { grid-template-columns: repeat(auto-fit, minmax(330px, 1fr)); }
.grid.overview { grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); }
.grid.two { grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); }
.grid.halves { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
@media (max-width: 1100px) { .grid.two, .grid.halves { grid-template-columns: minmax(0, 1fr); } }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 14px 16px;
  box-shadow: 0 1px 2px rgba(16, 24, 40, 0.04); min-width: 0;
}
.card.wide { margin-bottom: 16px; }
.card-head { display: flex; align-items: center; justify-content: space-between; gap: 8px; margin-bottom: 10px; }
.card-head h2 { font-size: 16px; }
.provider .card-head h2 { text-transform: capitalize; }

.kpi .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.4px; }
.kpi .value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; line-height: 1.2; }

.stats { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 8px; }
.stat { background: var(--soft); border-radius: 8px; padding: 8px 10px; }
.stat .label { color: var(--muted); font-size: 11.5px; text-transform: uppercase; letter-spacing: 0.3px; }
.stat .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.stat .rate { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums; }
.ratio { margin-top: 12px; }
.ratio-row { display: flex; justify-content: space-between; font-size: 13px; margin-bottom: 4px; }
.bar { height: 8px; background: #ffe3e3; border-radius: 999px; overflow: hidden; }
.bar.empty { background: var(--soft); }
.bar > span { display: block; height: 100%; background: var(--ok); border-radius: 999px; }
.queue { margin-top: 12px; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 13px; color: var(--muted); }
.queue strong { color: var(--ink); font-variant-numeric: tabular-nums; }

.badge {
  display: inline-block; font-size: 11.5px; font-weight: 600; padding: 1px 8px; border-radius: 999px;
  background: var(--soft); color: var(--muted); white-space: nowrap;
}
.badge.good { background: #d3f9d8; color: #2b8a3e; }
.badge.warn { background: #fff3bf; color: #a15c00; }
.badge.bad { background: #ffe3e3; color: #c92a2a; }
.badge.info { background: #d0ebff; color: #1864ab; }

.chart { width: 100%; }
.chart svg { display: block; width: 100%; height: auto; }
.chart .grid-line { stroke: #e9ecef; stroke-width: 1; }
.chart .axis { fill: #868e96; font-size: 11px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin-top: 8px; font-size: 12.5px; color: var(--muted); }
.legend span.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px; vertical-align: -2px; }

.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th {
  text-align: left; font-weight: 600; color: var(--muted); font-size: 11.5px; text-transform: uppercase;
  letter-spacing: 0.3px; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap;
}
td { padding: 6px 8px; border-bottom: 1px solid #eef1f4; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.nowrap { white-space: nowrap; }
td.body { max-width: 320px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
tbody tr.clickable { cursor: pointer; }
tbody tr.clickable:hover { background: #f8f9fa; }
tbody tr.selected { background: #e7f5ff; }
.empty { color: var(--muted); padding: 10px 0; font-size: 13px; }

.detail-head { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-bottom: 8px; }
.detail-body {
  white-space: pre-wrap; word-break: break-word; background: var(--soft); border-radius: 8px; padding: 8px 10px;
  margin: 8px 0;
}
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; margin: 0; font-size: 13px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-all; }

form.inline { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-bottom: 12px; }
.chat { display: flex; flex-direction: column; gap: 8px; max-height: 520px; overflow-y: auto; padding: 4px 2px; }
.chat-title { margin-bottom: 6px; color: var(--muted); font-size: 13px; }
.bubble {
  max-width: 70%; padding: 8px 12px; border-radius: 14px; white-space: pre-wrap; word-break: break-word;
  box-shadow: 0 1px 1px rgba(0, 0, 0, 0.04);
}
.bubble.inbound { align-self: flex-start; background: #eef1f4; border-bottom-left-radius: 4px; }
.bubble.outbound { align-self: flex-end; background: #d0ebff; border-bottom-right-radius: 4px; }
.bubble .meta { display: block; margin-top: 4px; font-size: 11.5px; color: var(--muted); white-space: normal; }

.login {
  max-width: 420px; margin: 12vh auto 0; background: var(--card); border: 1px solid var(--line);
  border-radius: var(--radius); padding: 28px; box-shadow: 0 8px 24px rgba(16, 24, 40, 0.08);
}
.login h1 { font-size: 20px; margin-bottom: 6px; }
.login p { color: var(--muted); margin: 0 0 16px; }
.login form { display: flex; flex-direction: column; gap: 10px; }
.login input { width: 100%; }
.login .error { min-height: 1.4em; margin: 0; }
`;
