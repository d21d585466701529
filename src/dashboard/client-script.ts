/** The chart's colour per `provider:direction` (the e2e test looks for them in a screenshot). */
export const SERIES_COLORS: Readonly<Record<string, string>> = {
  'twilio:outbound': '#e03131',
  'twilio:inbound': '#ffa8a8',
  'telnyx:outbound': '#1971c2',
  'telnyx:inbound': '#74c0fc',
};

/** Colours for providers not in SERIES_COLORS, outbound and inbound in turn. */
const FALLBACK_COLORS = ['#7048e8', '#b197fc', '#0ca678', '#63e6be', '#f76707', '#ffc078'];

/**
 * The dashboard page's script (served at /dashboard/assets/dashboard.js). Vanilla JavaScript, no library.
 *
 * Everything from the server goes into the DOM as text (textContent, Text nodes, attribute values that are never
 * URLs or handlers): message bodies and numbers are attacker-controlled. The page listens to /dashboard/stream
 * (server-sent events; EventSource sends the session cookie, same origin) and redraws on every `snapshot`; a
 * `logout` event (session ended, key revoked) or a 401 brings back the sign-in page.
 */
export const DASHBOARD_SCRIPT = String.raw`(function () {
  'use strict';
  var COLORS = ${JSON.stringify(SERIES_COLORS)};
  var FALLBACK = ${JSON.stringify(FALLBACK_COLORS)};
  var SVG = 'http://www.w3.org/2000/svg';
  var state = {
    snapshot: null,
    selected: null,
    selectedVersion: null,
    conversation: null,
    conversationVersion: null,
    source: null
  };

  // ---- DOM helpers: data only ever becomes text --------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  function h(tag, props, children) {
    var el = document.createElement(tag);
    setProps(el, props);
    append(el, children);
    return el;
  }

  function s(tag, props, children) {
    var el = document.createElementNS(SVG, tag);
    setProps(el, props);
    append(el, children);
    return el;
  }

  function setProps(el, props) {
    if (!props) return;
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      if (value === null || value === undefined || value === false) return;
      if (key === 'class') el.setAttribute('class', value);
      else if (key === 'text') el.textContent = String(value);
      else if (key === 'onclick' || key === 'onkeydown') el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    });
  }

  function append(el, children) {
    if (children === null || children === undefined) return;
    (Array.isArray(children) ? children : [children]).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    });
  }

  function replace(id, children) {
    var el = $(id);
    el.replaceChildren();
    append(el, children);
  }

  // ---- Formatting ------------------------------------------------------------------------------------------

  function num(n) {
    return typeof n === 'number' ? n.toLocaleString('en-US') : '—';
  }

  function rate(n) {
    return (Math.round(n * 10) / 10).toLocaleString('en-US') + '/min';
  }

  function pct(ratio) {
    return ratio === null || ratio === undefined ? '—' : (Math.round(ratio * 1000) / 10).toLocaleString('en-US') + '%';
  }

  function time(iso) {
    if (!iso) return '—';
    var d = new Date(iso);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function dateTime(iso) {
    if (!iso) return '—';
    var d = new Date(iso);
    return d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + time(iso);
  }

  function hhmm(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  var STATUS_TONE = {
    delivered: 'good', read: 'good', received: 'info', sent: 'info', sending: 'info', queued: '',
    undelivered: 'bad', failed: 'bad', canceled: 'warn'
  };

  function statusBadge(status) {
    return h('span', { class: 'badge ' + (STATUS_TONE[status] || ''), 'data-status': status, text: status || '—' });
  }

  function colorOf(series, index) {
    return COLORS[series.provider + ':' + series.direction] || FALLBACK[index % FALLBACK.length];
  }

  function table(headers, rows, empty) {
    if (rows.length === 0) return h('p', { class: 'empty', text: empty });
    return h('table', null, [
      h('thead', null, h('tr', null, headers.map(function (label) {
        var numeric = label.charAt(0) === '#';
        return h('th', { class: numeric ? 'num' : null, text: numeric ? label.slice(1) : label });
      }))),
      h('tbody', null, rows)
    ]);
  }

  function td(text, cls) {
    return h('td', { class: cls || null }, text);
  }

  // ---- Rendering -------------------------------------------------------------------------------------------

  function render(snapshot) {
    state.snapshot = snapshot;
    $('since').textContent =
      'Counts, rates, failures and the chart are kept in memory since this process started (' +
      dateTime(snapshot.countingSince) + '); rates are per minute over the last ' + snapshot.rateWindowMinutes +
      ' minutes. Queues, endpoints and messages are read live. Updated ' + time(snapshot.generatedAt) + '.';
    renderOverview(snapshot);
    replace('providers', snapshot.providers.map(providerCard));
    renderChart(snapshot.throughput);
    renderRecent(snapshot.recentMessages);
    renderFailures(snapshot.failures);
    renderEndpoints(snapshot.endpoints);
    renderEventFailures(snapshot.eventFailures);
    refreshSelected(snapshot);
  }

  function kpi(label, value, testid) {
    return h('div', { class: 'card kpi' }, [
      h('div', { class: 'label', text: label }),
      h('div', { class: 'value', 'data-testid': testid, text: value })
    ]);
  }

  function renderOverview(snapshot) {
    var t = { inbound: 0, accepted: 0, delivered: 0, notDelivered: 0, queue: 0 };
    snapshot.providers.forEach(function (p) {
      t.inbound += p.counts.inbound;
      t.accepted += p.counts.accepted;
      t.delivered += p.counts.delivered;
      t.notDelivered += p.counts.undelivered + p.counts.failed;
      t.queue += p.queue ? p.queue.pending : 0;
    });
    var final = t.delivered + t.notDelivered;
    var pending = 0;
    var dead = 0;
    snapshot.endpoints.forEach(function (e) {
      pending += e.pending;
      dead += e.dead;
    });
    replace('overview', [
      kpi('Inbound', num(t.inbound), 'total-inbound'),
      kpi('Outbound accepted', num(t.accepted), 'total-accepted'),
      kpi('Delivered', num(t.delivered), 'total-delivered'),
      kpi('Failed', num(t.notDelivered), 'total-failed'),
      kpi('Delivery ratio', pct(final === 0 ? null : t.delivered / final), 'total-ratio'),
      kpi('Send queue', num(t.queue), 'total-queue'),
      kpi('Events pending', num(pending), 'total-events-pending'),
      kpi('Events dead', num(dead), 'total-events-dead')
    ]);
  }

  function stat(label, value, perMinute, testid, title) {
    return h('div', { class: 'stat', title: title || null }, [
      h('div', { class: 'label', text: label }),
      h('div', { class: 'value', 'data-testid': testid, text: num(value) }),
      h('div', { class: 'rate', text: rate(perMinute) })
    ]);
  }

  var BREAKER = {
    closed: ['good', 'circuit closed'],
    half_open: ['warn', 'circuit half-open'],
    open: ['bad', 'circuit open']
  };

  function providerCard(p) {
    var id = p.provider;
    var q = p.queue;
    var breaker = q ? BREAKER[q.breaker] || ['', q.breaker] : ['', 'not sending'];
    var bar = h('span');
    bar.style.width = p.deliveryRatio === null ? '0' : Math.round(p.deliveryRatio * 100) + '%';
    return h('section', { class: 'card provider', 'data-testid': 'provider-' + id }, [
      h('div', { class: 'card-head' }, [
        h('h2', { text: id }),
        h('span', { class: 'badge ' + breaker[0], 'data-testid': id + '-breaker', text: breaker[1] })
      ]),
      h('div', { class: 'stats' }, [
        stat('Inbound', p.counts.inbound, p.ratesPerMinute.inbound, id + '-inbound', 'Inbound messages stored'),
        stat('Accepted', p.counts.accepted, p.ratesPerMinute.accepted, id + '-accepted',
          'Outbound messages the carrier accepted'),
        stat('Delivered', p.counts.delivered, p.ratesPerMinute.delivered, id + '-delivered',
          'Delivery receipts: delivered'),
        stat('Failed', p.counts.failed + p.counts.undelivered, p.ratesPerMinute.failed, id + '-failed',
          'Receipts of undelivered or failed, and sends that failed for good')
      ]),
      h('div', { class: 'ratio' }, [
        h('div', { class: 'ratio-row' }, [
          h('span', { class: 'muted', text: 'Delivery ratio' }),
          h('strong', { 'data-testid': id + '-ratio', text: pct(p.deliveryRatio) })
        ]),
        h('div', { class: 'bar' + (p.deliveryRatio === null ? ' empty' : '') }, bar)
      ]),
      h('div', { class: 'queue' }, [
        h('span', null, ['Queue ', h('strong', { 'data-testid': id + '-queue', text: q ? num(q.pending) : '—' })]),
        h('span', null, ['In flight ', h('strong', { 'data-testid': id + '-in-flight', text: q ? num(q.inFlight) : '—' })]),
        h('span', null, ['Retries ', h('strong', { text: num(p.counts.retries) })]),
        h('span', null, ['Failovers ', h('strong', { text: num(p.counts.failovers) })])
      ])
    ]);
  }

  function niceMax(value) {
    if (value <= 4) return 4;
    var step = Math.pow(10, Math.floor(Math.log10(value)));
    var candidates = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < candidates.length; i++) {
      if (candidates[i] * step >= value) return candidates[i] * step;
    }
    return 10 * step;
  }

  function renderChart(t) {
    var W = 960, H = 260, L = 44, R = 12, T = 12, B = 30;
    var series = t.series;
    var n = series.length > 0 ? series[0].points.length : 60;
    var totals = [];
    for (var i = 0; i < n; i++) totals.push(0);
    series.forEach(function (sr) {
      sr.points.forEach(function (v, j) {
        totals[j] += v;
      });
    });
    var max = niceMax(Math.max.apply(null, totals.concat([0])));
    var plotH = H - T - B;
    var slot = (W - L - R) / n;
    var barW = Math.max(1, slot * 0.72);
    var start = Date.parse(t.start);
    var svg = s('svg', {
      viewBox: '0 0 ' + W + ' ' + H,
      role: 'img',
      'aria-label': 'Messages per minute over the last hour',
      'data-testid': 'chart-svg'
    });
    svg.append(s('rect', { x: 0, y: 0, width: W, height: H, fill: '#ffffff' }));
    for (var g = 0; g <= 4; g++) {
      var y = T + plotH * (1 - g / 4);
      svg.append(s('line', { class: 'grid-line', x1: L, x2: W - R, y1: y, y2: y }));
      svg.append(s('text', { class: 'axis', x: L - 6, y: y + 4, 'text-anchor': 'end', text: num((max * g) / 4) }));
    }
    [0, 15, 30, 45, n - 1].forEach(function (k) {
      var label = k === n - 1 ? 'now' : hhmm(start + k * t.bucketMs);
      var anchor = k === 0 ? 'start' : k === n - 1 ? 'end' : 'middle';
      var x = k === n - 1 ? W - R : L + k * slot + (k === 0 ? 0 : slot / 2);
      svg.append(s('text', { class: 'axis', x: x, y: H - 10, 'text-anchor': anchor, text: label }));
    });
    for (var m = 0; m < n; m++) {
      var base = T + plotH;
      var x0 = L + m * slot + (slot - barW) / 2;
      series.forEach(function (sr, index) {
        var v = sr.points[m];
        if (!v) return;
        var height = (plotH * v) / max;
        base -= height;
        svg.append(s('rect', {
          x: x0.toFixed(2),
          y: base.toFixed(2),
          width: barW.toFixed(2),
          height: height.toFixed(2),
          fill: colorOf(sr, index),
          'data-series': sr.provider + ':' + sr.direction
        }, s('title', { text: hhmm(start + m * t.bucketMs) + ' · ' + sr.provider + ' ' + sr.direction + ': ' + v })));
      });
    }
    replace('chart', svg);
    replace('legend', series.map(function (sr, index) {
      var swatch = h('span', { class: 'swatch' });
      swatch.style.background = colorOf(sr, index);
      var total = sr.points.reduce(function (a, b) {
        return a + b;
      }, 0);
      return h('span', null, [swatch, sr.provider + ' ' + sr.direction + ' (' + num(total) + ' in the hour)']);
    }));
  }

  function numberButton(number) {
    return h('button', {
      type: 'button',
      class: 'link',
      title: 'Show the conversation with ' + number,
      onclick: function (event) {
        event.stopPropagation();
        $('conversation-number').value = number;
        openConversation(number);
      },
      text: number
    });
  }

  function renderRecent(messages) {
    var rows = messages.map(function (m) {
      var select = function () {
        selectMessage(m.id);
      };
      return h('tr', {
        class: 'clickable' + (state.selected === m.id ? ' selected' : ''),
        tabindex: 0,
        'data-id': m.id,
        'data-testid': 'message-row',
        onclick: select,
        onkeydown: function (event) {
          if (event.key === 'Enter') select();
        }
      }, [
        td(time(m.createdAt), 'nowrap'),
        td(m.direction === 'inbound' ? '← in' : '→ out', 'nowrap'),
        td(m.provider),
        h('td', { class: 'nowrap' }, numberButton(m.from)),
        h('td', { class: 'nowrap' }, numberButton(m.to)),
        h('td', { class: 'body', title: m.body, 'data-testid': 'message-body' },
          m.body + (m.media > 0 ? ' [' + m.media + ' media]' : '')),
        h('td', null, statusBadge(m.status))
      ]);
    });
    replace('recent', table(['Time', 'Dir', 'Provider', 'From', 'To', 'Body', 'Status'], rows, 'No messages yet.'));
  }

  function renderFailures(failures) {
    var rows = failures.map(function (f) {
      return h('tr', { 'data-testid': 'failure-row' }, [
        td(f.provider),
        td(f.code, 'mono'),
        td(f.errorClass || 'carrier report'),
        td(num(f.failed), 'num'),
        td(num(f.retried), 'num'),
        td(time(f.lastAt), 'nowrap'),
        td(f.lastMessage || '')
      ]);
    });
    replace('failures', table(['Provider', 'Code', 'Class', '#Failed', '#Retried', 'Last seen', 'Last message'], rows,
      'No failures since start.'));
  }

  function renderEndpoints(endpoints) {
    var rows = endpoints.map(function (e) {
      return h('tr', { 'data-testid': 'endpoint-row' }, [
        h('td', null, [h('strong', { text: e.id }), h('div', { class: 'muted mono', text: e.origin || 'per message' })]),
        h('td', null, e.enabled
          ? h('span', { class: 'badge good', text: 'enabled' })
          : h('span', { class: 'badge bad', title: e.disabledReason || '', text: 'disabled' })),
        td(num(e.pending), 'num'),
        td(num(e.dead), 'num'),
        td(num(e.attempts.delivered), 'num'),
        td(num(e.attempts.retry + e.attempts.dead + e.attempts.disabled), 'num')
      ]);
    });
    replace('endpoints', table(['Endpoint', 'State', '#Pending', '#Dead', '#Delivered', '#Failed tries'], rows,
      'No app endpoints are configured (APP_WEBHOOK_URL).'));
  }

  function renderEventFailures(failures) {
    var rows = failures.map(function (f) {
      return h('tr', { 'data-testid': 'event-failure-row' }, [
        td(time(f.at), 'nowrap'),
        td(f.endpointId),
        td(f.type, 'mono'),
        h('td', null, h('button', {
          type: 'button',
          class: 'link mono',
          title: 'Show the message',
          onclick: function () {
            selectMessage(f.messageId);
          },
          text: f.messageId.slice(0, 8) + '…'
        })),
        td(num(f.attempts), 'num'),
        td(f.statusCode !== null ? 'HTTP ' + f.statusCode : f.error || 'no answer', 'nowrap'),
        h('td', null, f.state === 'dead'
          ? h('span', { class: 'badge bad', text: 'dead' })
          : h('span', { class: 'badge warn', title: 'next try ' + dateTime(f.nextAttemptAt), text: 'retrying' }))
      ]);
    });
    replace('event-failures', table(['Last try', 'Endpoint', 'Event', 'Message', '#Tries', 'Answer', 'State'], rows,
      'No failing deliveries.'));
  }

  // ---- One message and its history -------------------------------------------------------------------------

  function selectMessage(id) {
    state.selected = id;
    state.selectedVersion = null;
    document.querySelectorAll('#recent tr.clickable').forEach(function (row) {
      row.classList.toggle('selected', row.getAttribute('data-id') === id);
    });
    loadMessage(id);
  }

  function refreshSelected(snapshot) {
    if (state.selected !== null) {
      var row = snapshot.recentMessages.find(function (m) {
        return m.id === state.selected;
      });
      if (row && row.updatedAt !== state.selectedVersion) loadMessage(state.selected);
    }
    if (state.conversation !== null) {
      var version = snapshot.recentMessages.map(function (m) {
        return m.id + m.updatedAt;
      }).join();
      if (version !== state.conversationVersion) {
        state.conversationVersion = version;
        openConversation(state.conversation, true);
      }
    }
  }

  function getJson(url) {
    return fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } }).then(function (res) {
      if (res.status === 401) {
        location.reload();
        throw new Error('signed out');
      }
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body && body.error ? body.error.message : 'HTTP ' + res.status);
        return body;
      });
    });
  }

  function loadMessage(id) {
    getJson('dashboard/api/messages/' + encodeURIComponent(id)).then(function (m) {
      if (state.selected !== id) return;
      state.selectedVersion = m.updatedAt;
      renderMessage(m);
    }, function (err) {
      if (state.selected === id) replace('detail', h('p', { class: 'error', text: err.message }));
    });
  }

  function renderMessage(m) {
    var history = (m.events || []).map(function (e) {
      return h('tr', { 'data-testid': 'history-row', 'data-status': e.status || '' }, [
        td(time(e.occurredAt), 'nowrap'),
        h('td', null, statusBadge(e.status)),
        td(e.providerStatus, 'mono'),
        td(e.errorCode ? e.errorCode + (e.errorMessage ? ' ' + e.errorMessage : '') : '')
      ]);
    });
    var attempts = (m.attempts || []).map(function (a) {
      return h('tr', { 'data-testid': 'attempt-row' }, [
        td(time(a.startedAt), 'nowrap'),
        td(a.provider),
        td(a.outcome),
        td(a.errorCode || a.errorClass || ''),
        td(a.errorMessage || ''),
        td(num(a.durationMs) + ' ms', 'num')
      ]);
    });
    replace('detail', [
      h('div', { class: 'detail-head' }, [
        h('strong', { text: m.direction === 'inbound' ? 'Inbound' : 'Outbound' }),
        h('span', { class: 'badge', text: m.provider }),
        statusBadge(m.status),
        m.errorCode ? h('span', { class: 'badge bad', text: m.errorCode }) : null
      ]),
      h('dl', { class: 'facts' }, [
        h('dt', { text: 'Id' }), h('dd', { class: 'mono', 'data-testid': 'detail-id', text: m.id }),
        h('dt', { text: 'From' }), h('dd', { text: m.from }),
        h('dt', { text: 'To' }), h('dd', { text: m.to }),
        h('dt', { text: 'Created' }), h('dd', { text: dateTime(m.createdAt) }),
        h('dt', { text: 'Carrier id' }), h('dd', { class: 'mono', text: m.providerMessageId || '—' })
      ]),
      h('div', { class: 'detail-body', 'data-testid': 'detail-body', text: m.body }),
      h('h3', { text: 'Status history' }),
      h('div', { class: 'table-wrap', 'data-testid': 'status-history' },
        table(['Time', 'Status', 'Carrier status', 'Error'], history, 'No status reports yet.')),
      m.direction === 'outbound' ? h('h3', { text: 'Send attempts' }) : null,
      m.direction === 'outbound'
        ? h('div', { class: 'table-wrap' }, table(['Time', 'Provider', 'Outcome', 'Code', 'Message', '#Took'],
          attempts, 'Not tried yet.'))
        : null
    ]);
  }

  // ---- Conversation ----------------------------------------------------------------------------------------

  function openConversation(number, quiet) {
    if (!quiet) {
      $('conversation-error').textContent = '';
    }
    getJson('dashboard/api/conversation?number=' + encodeURIComponent(number)).then(function (c) {
      state.conversation = c.number;
      renderConversation(c);
    }, function (err) {
      if (quiet) return;
      state.conversation = null;
      $('conversation-error').textContent = err.message;
      replace('conversation-title', null);
      replace('conversation', null);
    });
  }

  function renderConversation(c) {
    $('conversation-title').textContent = c.messages.length === 0
      ? 'No messages to or from ' + c.number + '.'
      : 'Conversation with ' + c.number + ' — ' + c.messages.length + ' message' + (c.messages.length === 1 ? '' : 's') +
        (c.truncated ? ' (the latest only)' : '');
    var list = $('conversation');
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    replace('conversation', c.messages.map(function (m) {
      return h('div', {
        class: 'bubble ' + m.direction,
        'data-testid': 'bubble',
        'data-direction': m.direction,
        'data-id': m.id
      }, [
        h('span', { class: 'text', text: m.body + (m.media.length > 0 ? ' [' + m.media.length + ' media]' : '') }),
        h('span', { class: 'meta' }, [
          dateTime(m.createdAt) + ' · ' + m.provider + ' · ' + (m.direction === 'inbound' ? 'to ' + m.to : 'from ' + m.from) + ' · ',
          statusBadge(m.status)
        ])
      ]);
    }));
    if (atBottom || !state.conversationVersion) list.scrollTop = list.scrollHeight;
  }

  $('conversation-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var number = $('conversation-number').value.trim();
    if (number === '') return;
    state.conversationVersion = null;
    openConversation(number);
  });

  // ---- Live updates ----------------------------------------------------------------------------------------

  function setLive(mode, text) {
    var el = $('live');
    el.setAttribute('data-state', mode);
    el.textContent = text;
  }

  function connect() {
    var source = new EventSource('dashboard/stream');
    state.source = source;
    source.addEventListener('snapshot', function (event) {
      setLive('live', 'live');
      render(JSON.parse(event.data));
    });
    source.addEventListener('logout', function () {
      source.close();
      location.reload();
    });
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED) {
        setLive('reconnecting', 'reconnecting…');
        return;
      }
      // Refused (401 after the session ended, or the server is gone): see which, then sign in or retry.
      setLive('offline', 'offline');
      fetch('dashboard/api/snapshot', { credentials: 'same-origin' }).then(function (res) {
        if (res.status === 401) location.reload();
        else setTimeout(connect, 3000);
      }, function () {
        setTimeout(connect, 3000);
      });
    };
  }

  $('logout').addEventListener('click', function () {
    if (state.source) state.source.close();
    fetch('dashboard/session', { method: 'DELETE', credentials: 'same-origin' }).then(function () {
      location.reload();
    }, function () {
      location.reload();
    });
  });

  connect();
})();
`;
