/**
 * The dashboard's two HTML documents. They hold no data: the page's script reads it (GET /dashboard/stream,
 * /dashboard/api/*) and puts it in the DOM as text. Asset URLs are relative to /dashboard, so the dashboard also
 * works behind a proxy that serves it under a path prefix.
 */

/**
 * Every dashboard document's Content-Security-Policy: scripts, styles and connections from this origin only, no
 * inline script or style, no plugins, no framing. Message bodies are attacker-controlled: even if one reached the
 * DOM as markup, it could run nothing.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every dashboard document is sent with. */
export const DOCUMENT_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe for HTML content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const head = (title: string, script: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard/assets/dashboard.css">
<script src="dashboard/assets/${script}" defer></script>
</head>`;

/** The sign-in page (answered with 401 to a request without a valid session). */
export function loginPage(): string {
  return `${head('Switchboard · Sign in', 'login.js')}
<body>
<main>
  <section class="login" data-testid="login">
    <h1>Switchboard dashboard</h1>
    <p>Paste an API key with the <strong>read</strong> scope. It is sent once to start a session; the browser keeps only a session cookie.</p>
    <form id="login-form" autocomplete="off">
      <input id="login-key" name="key" type="password" placeholder="API key" aria-label="API key" required autofocus>
      <button class="primary" type="submit" id="login-submit">Sign in</button>
      <p class="error" id="login-error" data-testid="login-error" role="alert"></p>
    </form>
  </section>
</main>
</body>
</html>
`;
}

/** The dashboard, for a signed-in operator (`who` names the API key, shown in the header). */
export function dashboardPage(who: { id: string; name: string }): string {
  return `${head('Switchboard · Dashboard', 'dashboard.js')}
<body>
<header class="top">
  <h1>Switchboard</h1>
  <span class="live" id="live" data-state="connecting" data-testid="live">connecting…</span>
  <span class="spacer"></span>
  <span class="who" data-testid="who">key ${escapeHtml(who.name)} (${escapeHtml(who.id)})</span>
  <button type="button" id="logout" data-testid="logout">Sign out</button>
</header>
<main>
  <p class="note" id="since" data-testid="since">Counts, rates, failures and the chart are kept in memory since this process started; queues, endpoints and messages are read live.</p>
  <section class="grid overview" id="overview" data-testid="overview"></section>
  <section class="grid cards" id="providers" data-testid="providers"></section>
  <section class="card wide">
    <div class="card-head"><h2>Throughput, last hour <small>messages per minute (outbound: accepted by the carrier)</small></h2></div>
    <div class="chart" id="chart" data-testid="chart"></div>
    <div class="legend" id="legend"></div>
  </section>
  <div class="grid two">
    <section class="card">
      <div class="card-head"><h2>Recent messages <small>click one for its status history</small></h2></div>
      <div class="table-wrap" id="recent" data-testid="recent-messages"></div>
    </section>
    <section class="card">
      <div class="card-head"><h2>Message</h2></div>
      <div id="detail" data-testid="message-detail"><p class="empty">Click a message to see its status history.</p></div>
    </section>
  </div>
  <section class="card wide">
    <div class="card-head"><h2>Conversation <small>every message to or from a number, oldest first</small></h2></div>
    <form class="inline" id="conversation-form">
      <input id="conversation-number" name="number" placeholder="+14155550123" aria-label="Phone number" data-testid="conversation-number">
      <button type="submit" class="primary" data-testid="conversation-show">Show</button>
      <span class="error" id="conversation-error" data-testid="conversation-error" role="alert"></span>
    </form>
    <div class="chat-title" id="conversation-title" data-testid="conversation-title"></div>
    <div class="chat" id="conversation" data-testid="conversation"></div>
  </section>
  <div class="grid halves">
    <section class="card">
      <div class="card-head"><h2>Failures by error code <small>since start</small></h2></div>
      <div class="table-wrap" id="failures" data-testid="failures"></div>
    </section>
    <section class="card">
      <div class="card-head"><h2>Event deliveries</h2></div>
      <div class="table-wrap" id="endpoints" data-testid="endpoints"></div>
      <h3>Failing and dead deliveries</h3>
      <div class="table-wrap" id="event-failures" data-testid="event-failures"></div>
    </section>
  </div>
</main>
</body>
</html>
`;
}
