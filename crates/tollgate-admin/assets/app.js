// tollgate's cost dashboard (docs/dashboard.md). Every number comes from the admin JSON API
// (/admin/...); this script only queries, sums what it shows and draws. Each panel loads on
// its own, so one failing or slow endpoint never blanks the others: it shows its message.
'use strict';

(() => {
  // --- state, token and URL -------------------------------------------------------------
  const DEFAULTS = { data: 'auto', period: '30d', from: '', to: '', api: '', stage: '', tag: '',
    by: 'api', interval: '', movers: 'route' };
  const state = { ...DEFAULTS };
  const charts = {};
  let generation = 0;

  // `?token=` is passed to the API as a Bearer header, kept for this tab only, and taken off
  // the address bar so it does not end up in the history or a screenshot.
  const TOKEN_KEY = 'tollgate.admin-token';
  const url = new URL(window.location.href);
  let token = null;
  try { token = window.sessionStorage.getItem(TOKEN_KEY); } catch (_) { token = null; }
  if (url.searchParams.has('token')) {
    token = url.searchParams.get('token') || null;
    try {
      if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
      else window.sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) { /* storage off: the token lives as long as the page */ }
  }
  for (const k of Object.keys(DEFAULTS)) {
    const v = url.searchParams.get(k);
    if (v !== null) state[k] = v;
  }

  function writeUrl() {
    const u = new URL(window.location.href);
    u.search = '';
    for (const [k, v] of Object.entries(state)) {
      if (v && v !== DEFAULTS[k]) u.searchParams.set(k, v);
    }
    window.history.replaceState(null, '', u.pathname + u.search);
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, params) {
    const u = new URL(path, window.location.origin);
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
    }
    const headers = { Accept: 'application/json' };
    if (token) headers.Authorization = 'Bearer ' + token;
    let r;
    try {
      r = await fetch(u, { headers, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, `${path}: the admin listener did not answer (${e.message})`);
    }
    let body = null;
    try { body = await r.json(); } catch (_) { body = null; }
    if (!r.ok) {
      const msg = (body && body.message) || r.statusText || 'error';
      if (r.status === 401) showAuthNote();
      throw new ApiError(r.status, `${path}: ${r.status} ${msg}`);
    }
    if (body === null) throw new ApiError(r.status, `${path}: the answer is not JSON`);
    return body;
  }

  function showAuthNote() {
    const n = document.getElementById('auth-note');
    n.textContent = token
      ? 'The admin API refused the token: open this page as /?token=<admin.token> with the right one.'
      : 'The admin API needs its token (admin.token): open this page as /?token=<admin.token>.';
    n.hidden = false;
  }

  // --- formatting ------------------------------------------------------------------------
  const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
  const num = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const dec = (s) => { const n = Number(s); return Number.isFinite(n) ? n : 0; };
  function money(v) {
    const n = typeof v === 'number' ? v : dec(v);
    if (n !== 0 && Math.abs(n) < 0.005) return (n < 0 ? '-' : '') + '<$0.01';
    return usd.format(n);
  }
  function signedMoney(n) { return (n > 0 ? '+' : '') + money(n); }
  function pct(n) { return Number.isFinite(n) ? (n > 0 ? '+' : '') + num.format(n * 100) + '%' : 'new'; }
  function duration(ms) {
    const s = dec(ms) / 1000;
    if (s < 90) return num.format(s) + ' s';
    if (s < 5400) return num.format(s / 60) + ' min';
    return num.format(s / 3600) + ' h';
  }
  const pad = (n) => String(n).padStart(2, '0');
  // What the API reads: YYYY-MM-DDTHH:MM:SSZ (UTC, no fraction).
  const iso = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const dayLabel = (d) => `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
  const hourLabel = (d) => `${dayLabel(d)} ${pad(d.getUTCHours())}:00`;
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function row(cells) {
    const tr = document.createElement('tr');
    for (const c of cells) {
      if (c instanceof Node) { const td = el('td'); td.appendChild(c); tr.appendChild(td); }
      else if (Array.isArray(c)) tr.appendChild(el('td', c[0], c[1]));
      else tr.appendChild(el('td', c));
    }
    return tr;
  }
  function fill(tbody, rows, empty, cols) {
    tbody.replaceChildren();
    if (rows.length === 0) {
      const td = el('td', empty, 'empty');
      td.colSpan = cols;
      const tr = document.createElement('tr');
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    for (const r of rows) tbody.appendChild(r);
  }

  // --- which data: the gateway meter or the imported AWS bill -------------------------------
  // Forecast, anomalies and timeseries read either (`data=auto|metered|bill`) and say which in
  // their `data` field; the other endpoints read the gateway meter only.
  const DATA_NAMES = { metered: 'gateway meter', bill: 'AWS bill' };
  const BY_OPTIONS = {
    metered: [['api', 'API'], ['route', 'Route'], ['stage', 'Stage'], ['key', 'API key'],
      ['status', 'Status class']],
    bill: [['api', 'API'], ['stage', 'Stage'], ['account', 'Account'], ['region', 'Region'],
      ['usage_type', 'Usage type'], ['line_item_type', 'Line item type']],
  };
  // What each bill-capable view showed last: `metered` or `bill`, from its answer.
  const seen = {};
  const billSelected = () => state.data === 'bill';

  function setByOptions(kind) {
    const select = document.getElementById('c-by');
    if (select.dataset.kind === kind) return;
    select.dataset.kind = kind;
    select.replaceChildren(...BY_OPTIONS[kind].map(([v, label]) => {
      const o = el('option', label);
      o.value = v;
      return o;
    }));
    select.value = state.by;
  }
  // A stack the chosen data cannot split by falls back to the API.
  function checkBy() {
    if (state.data === 'auto') return;
    if (!BY_OPTIONS[state.data].some(([v]) => v === state.by)) state.by = 'api';
    setByOptions(state.data);
  }

  function saw(view, data) {
    seen[view] = data;
    for (const b of document.querySelectorAll(`.src[data-src-for="${view}"]`)) {
      b.textContent = data ? DATA_NAMES[data] || data : '';
      b.dataset.data = data || '';
    }
    updateDataNote();
  }

  // Which data the figures are: the selection, or what `auto` chose (from the answers).
  function updateDataNote() {
    const kinds = [...new Set(Object.values(seen).filter(Boolean))];
    const resolved = kinds.length === 1 ? kinds[0] : (kinds.length ? 'mixed' : '');
    document.body.dataset.data = resolved;
    const auto = document.querySelector('#f-data option[value="auto"]');
    auto.textContent = state.data === 'auto' && resolved
      ? `Auto: ${resolved === 'mixed' ? 'mixed' : DATA_NAMES[resolved]}` : 'Auto';
    const note = document.getElementById('data-note');
    note.replaceChildren();
    let text = '';
    if (resolved === 'bill') {
      note.appendChild(el('b', 'AWS bill'));
      text = ': imported bill lines at their unblended cost (credits, refunds and tax included).'
        + (state.data === 'auto' ? ' Auto chose it: the period holds no metered usage.' : '')
        + ' Top movers, recommendations and WebSocket connections read the gateway meter only.';
    } else if (resolved === 'metered') {
      note.appendChild(el('b', 'Gateway meter'));
      text = ': usage the gateway metered, priced with AWS\'s rates by tollgate\'s catalog.';
    } else if (resolved === 'mixed') {
      note.appendChild(el('b', 'Mixed'));
      text = ': auto chose per view — ' + Object.entries(seen).filter(([, v]) => v)
        .map(([k, v]) => `${k}: ${DATA_NAMES[v] || v}`).join(', ') + '. Pick one above to compare.';
    }
    note.appendChild(document.createTextNode(text));
    note.hidden = !resolved;
  }

  // --- the period and the filters ----------------------------------------------------------
  const DAY = 86400000;
  function periodRange() {
    const now = new Date();
    const end = new Date(Math.ceil((now.getTime() + 1) / 60000) * 60000);
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    switch (state.period) {
      case 'mtd': return { from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)), to: end };
      case '7d': return { from: new Date(today - 7 * DAY), to: end };
      case 'prev': return {
        from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)),
        to: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)),
      };
      case 'custom': {
        const f = Date.parse(state.from + 'T00:00:00Z');
        const t = Date.parse(state.to + 'T00:00:00Z');
        if (Number.isFinite(f) && Number.isFinite(t) && t >= f) {
          return { from: new Date(f), to: new Date(t + DAY) }; // the `to` day is included
        }
        return { from: new Date(today - 30 * DAY), to: end };
      }
      default: return { from: new Date(today - 30 * DAY), to: end };
    }
  }

  // The tag filter is `NAME:VALUE`.
  function tagFilter() {
    const i = state.tag.indexOf(':');
    return i > 0 ? { name: state.tag.slice(0, i), value: state.tag.slice(i + 1) } : null;
  }
  // Does a row of /admin/cost or /admin/usage (grouped by api, stage and the tag) pass?
  function passes(r) {
    const tag = tagFilter();
    return (!state.api || r.api === state.api)
      && (!state.stage || r.stage === state.stage)
      && (!tag || r['tag:' + tag.name] === tag.value);
  }
  // The `by` list that lets `passes` filter.
  function filterBy(extra) {
    const by = ['api', 'stage'];
    const tag = tagFilter();
    if (tag) by.push('tag:' + tag.name);
    for (const e of extra) if (!by.includes(e)) by.push(e);
    return by.join(',');
  }

  function setOptions(select, values, allLabel, current) {
    const keep = new Set(values);
    if (current) keep.add(current);
    select.replaceChildren(el('option', allLabel));
    select.firstChild.value = '';
    for (const v of [...keep].sort()) {
      const o = el('option', v === '' ? '(none)' : v);
      o.value = v;
      select.appendChild(o);
    }
    select.value = current;
  }

  // Over the bill, the APIs and stages are the bill's (/admin/dimensions reads the meter):
  // its series by API and by stage. Tags are not listed; `tag=` in the address still filters.
  async function loadBillDimensions(range) {
    const q = { data: 'bill', from: iso(range.from), to: iso(range.to), interval: 'day', limit: 100 };
    const [a, s] = await Promise.all([
      api('/admin/timeseries', { ...q, by: 'api' }),
      api('/admin/timeseries', { ...q, by: 'stage', api: state.api }),
    ]);
    const values = (t, k) => t.series.map((x) => x[k]).filter((v) => v !== '(other)');
    setOptions(document.getElementById('f-api'), values(a, 'api'), 'All APIs', state.api);
    setOptions(document.getElementById('f-stage'), values(s, 'stage'), 'All stages', state.stage);
    setOptions(document.getElementById('f-tag'), [], 'All tags', state.tag);
  }

  async function loadDimensions(range) {
    if (billSelected()) return loadBillDimensions(range);
    const d = await api('/admin/dimensions', { from: iso(range.from), to: iso(range.to) });
    setOptions(document.getElementById('f-api'), d.apis || [], 'All APIs', state.api);
    const stages = new Set();
    for (const [a, list] of Object.entries(d.stages || {})) {
      if (!state.api || a === state.api) for (const s of list) stages.add(s);
    }
    setOptions(document.getElementById('f-stage'), [...stages], 'All stages', state.stage);
    const tags = [];
    for (const [n, values] of Object.entries(d.tags || {})) for (const v of values) tags.push(`${n}:${v}`);
    setOptions(document.getElementById('f-tag'), tags, 'All tags', state.tag);
  }

  // --- panels -------------------------------------------------------------------------------
  function panel(id) {
    const p = document.getElementById(id);
    const err = p.querySelector('.error');
    return {
      el: p,
      ok(status) { p.dataset.status = status || 'ok'; err.hidden = true; err.textContent = ''; },
      fail(e, status) {
        p.dataset.status = status || 'error';
        err.textContent = e instanceof Error ? e.message : String(e);
        err.hidden = false;
      },
      loading() { p.dataset.status = 'loading'; },
      // The AWS bill is selected and this view reads the gateway meter only: say so instead
      // of drawing an empty table.
      meteredOnly(what) {
        this.fail(`Gateway meter only: ${what} Choose “Gateway meter” or “Auto” in Data to see it.`,
          'metered-only');
      },
    };
  }

  const PALETTE = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#dc2626', '#0891b2',
    '#ca8a04', '#db2777', '#4f46e5', '#65a30d', '#0d9488', '#7c3aed'];
  const OTHER_COLOUR = '#9ca3af';

  function chart(id, config) {
    if (typeof window.Chart !== 'function') {
      throw new Error('the chart library did not load (/assets/vendor/chart-4.5.1.umd.min.js)');
    }
    const existing = charts[id];
    if (existing) {
      existing.data = config.data;
      existing.options = config.options;
      existing.update();
      return existing;
    }
    charts[id] = new window.Chart(document.getElementById(id), config);
    return charts[id];
  }

  const moneyAxis = {
    beginAtZero: true,
    ticks: { callback: (v) => usd.format(v) },
  };

  async function loadOverTime(range) {
    const p = panel('p-over-time');
    p.loading();
    try {
      const t = await api('/admin/timeseries', {
        data: state.data, from: iso(range.from), to: iso(range.to), by: state.by,
        interval: state.interval, api: state.api, stage: state.stage, tag: state.tag,
      });
      saw('over-time', t.data);
      setByOptions(t.data === 'bill' ? 'bill' : 'metered');
      const hourly = t.interval === 'hour';
      const labels = t.buckets.map((b) => (hourly ? hourLabel : dayLabel)(new Date(b)));
      const datasets = t.series.map((s, i) => ({
        label: s.name === '' ? '(none)' : s.name,
        data: s.costs.map(dec),
        backgroundColor: s.name.endsWith('(other)') ? OTHER_COLOUR : PALETTE[i % PALETTE.length],
        borderWidth: 0,
      }));
      chart('chart-over-time', {
        type: 'bar',
        data: { labels, datasets },
        options: {
          animation: false,
          maintainAspectRatio: false,
          interaction: { mode: 'index', intersect: false },
          scales: { x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true } },
            y: { ...moneyAxis, stacked: true } },
          plugins: {
            legend: { position: 'right' },
            tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${money(c.parsed.y)}` } },
          },
        },
      });
      p.el.dataset.series = String(datasets.length);
      p.el.dataset.total = t.total;
      if (t.series.length === 0) {
        p.fail(t.data === 'bill' ? 'No bill lines in this period for these filters.'
          : 'No usage in this period for these filters.', 'empty');
      }
      else p.ok();
      return t;
    } catch (e) {
      saw('over-time', null);
      p.fail(e);
      return null;
    }
  }

  // The forecast's row for the filters: by the filtered dimensions, or the total.
  async function forecastFor() {
    const tag = tagFilter();
    const by = [];
    if (state.api) by.push('api');
    if (state.stage) by.push('stage');
    if (tag) by.push('tag:' + tag.name);
    const f = await api('/admin/forecast', { data: state.data, by: by.join(',') });
    if (by.length === 0) return { month: f.month, data: f.data, p: f };
    const hit = (f.rows || []).find((r) => (!state.api || r.api === state.api)
      && (!state.stage || r.stage === state.stage)
      && (!tag || r['tag:' + tag.name] === tag.value));
    const zero = { actual_to_date: '0', forecast: '0', lower: '0', upper: '0' };
    return { month: f.month, data: f.data, p: hit || zero };
  }

  async function loadMonth() {
    const p = panel('p-month');
    const k = panel('p-kpis');
    p.loading();
    try {
      const now = new Date();
      const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
      const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
      const end = new Date(Math.ceil((now.getTime() + 1) / 60000) * 60000);
      const [f, t] = await Promise.all([
        forecastFor(),
        api('/admin/timeseries', {
          data: state.data, from: iso(start), to: iso(end), interval: 'day', by: 'api',
          api: state.api, stage: state.stage, tag: state.tag,
        }),
      ]);
      saw('month', f.data === t.data ? f.data : 'mixed');
      document.getElementById('k-mtd').textContent = money(f.p.actual_to_date);
      document.getElementById('k-month').textContent = f.month;
      document.getElementById('k-forecast').textContent = money(f.p.forecast);
      document.getElementById('k-interval').textContent =
        `likely ${money(f.p.lower)} – ${money(f.p.upper)}`;
      const days = Math.round((next - start) / DAY);
      const labels = Array.from({ length: days }, (_, i) => String(i + 1));
      const actual = new Array(days).fill(null);
      let sum = 0;
      t.totals.forEach((c, i) => { sum += dec(c); if (i < days) actual[i] = sum; });
      const last = Math.min(t.totals.length, days) - 1;
      const line = (target) => {
        const out = new Array(days).fill(null);
        if (last < 0) return out;
        const from = actual[last];
        for (let i = last; i < days; i++) {
          out[i] = from + (dec(target) - from) * (days - 1 === last ? 1 : (i - last) / (days - 1 - last));
        }
        return out;
      };
      chart('chart-month', {
        type: 'line',
        data: {
          labels,
          datasets: [
            { label: 'Actual (cumulative)', data: actual, borderColor: '#2563eb', backgroundColor: '#2563eb', pointRadius: 0, borderWidth: 2 },
            { label: 'Forecast', data: line(f.p.forecast), borderColor: '#ea580c', backgroundColor: '#ea580c', borderDash: [6, 4], pointRadius: 0, borderWidth: 2 },
            { label: 'Lower', data: line(f.p.lower), borderColor: 'rgba(234,88,12,0.25)', pointRadius: 0, borderWidth: 1, fill: false },
            { label: 'Upper', data: line(f.p.upper), borderColor: 'rgba(234,88,12,0.25)', backgroundColor: 'rgba(234,88,12,0.12)', pointRadius: 0, borderWidth: 1, fill: '-1' },
          ],
        },
        options: {
          animation: false,
          maintainAspectRatio: false,
          interaction: { mode: 'index', intersect: false },
          scales: { x: { title: { display: true, text: `day of ${f.month}` } }, y: moneyAxis },
          plugins: {
            legend: { labels: { boxHeight: 3, filter: (i) => i.text !== 'Lower' && i.text !== 'Upper' } },
            tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${money(c.parsed.y)}` } },
          },
        },
      });
      p.ok();
      return true;
    } catch (e) {
      saw('month', null);
      p.fail(e);
      k.fail(e);
      return false;
    }
  }

  // The period and the one before it, of equal length, from /admin/cost.
  async function loadCosts(range, extra) {
    const prevFrom = new Date(range.from.getTime() - (range.to - range.from));
    const by = filterBy(extra);
    const [now, prev] = await Promise.all([
      api('/admin/cost', { from: iso(range.from), to: iso(range.to), by }),
      api('/admin/cost', { from: iso(prevFrom), to: iso(range.from), by }),
    ]);
    return { now: now.rows.filter(passes), prev: prev.rows.filter(passes), prevFrom };
  }

  function sumBy(rows, key) {
    const m = new Map();
    for (const r of rows) m.set(key(r), (m.get(key(r)) || 0) + dec(r.cost));
    return m;
  }

  function showPeriod(range, prevFrom, total, prevTotal, data) {
    document.getElementById('k-period').textContent = money(total);
    document.getElementById('k-period-range').textContent =
      `${dayLabel(range.from)} – ${dayLabel(new Date(range.to - 1))}`
      + (data === 'bill' ? ' · AWS bill' : '');
    const change = total - prevTotal;
    document.getElementById('k-change').textContent = signedMoney(change);
    document.getElementById('k-prev').textContent =
      `${pct(prevTotal ? change / prevTotal : NaN)} on ${money(prevTotal)} (${dayLabel(prevFrom)} – ${dayLabel(new Date(range.from - 1))})`;
    document.getElementById('p-kpis').dataset.data = data;
  }

  // The period and the one before it from the bill: /admin/timeseries totals (daily, one
  // series), the bill lines starting in each.
  async function billPeriod(range) {
    const prevFrom = new Date(range.from.getTime() - (range.to - range.from));
    const q = { data: 'bill', interval: 'day', limit: 1, api: state.api, stage: state.stage, tag: state.tag };
    const [now, prev] = await Promise.all([
      api('/admin/timeseries', { ...q, from: iso(range.from), to: iso(range.to) }),
      api('/admin/timeseries', { ...q, from: iso(prevFrom), to: iso(range.from) }),
    ]);
    return { prevFrom, total: dec(now.total), prevTotal: dec(prev.total), lines: now.series.length + prev.series.length };
  }

  async function loadMovers(range) {
    const p = panel('p-movers');
    const k = panel('p-kpis');
    p.loading();
    if (billSelected()) {
      p.meteredOnly('top movers compare routes, API keys and clients, which the gateway meters and a bill does not have.');
      try {
        const b = await billPeriod(range);
        showPeriod(range, b.prevFrom, b.total, b.prevTotal, 'bill');
        k.ok();
      } catch (e) {
        k.fail(e);
      }
      return;
    }
    try {
      const dim = state.movers;
      const c = await loadCosts(range, dim === 'route' ? ['route'] : [dim]);
      const key = (r) => (dim === 'route' ? `${r.api} ${r.route}` : (r[dim] || '(none)'));
      const now = sumBy(c.now, key);
      const prev = sumBy(c.prev, key);
      const total = [...now.values()].reduce((a, b) => a + b, 0);
      const prevTotal = [...prev.values()].reduce((a, b) => a + b, 0);
      // Auto over a store with no metered usage in either period: the bill's, if it has any.
      let shown = false;
      if (state.data === 'auto' && c.now.length === 0 && c.prev.length === 0) {
        const b = await billPeriod(range).catch(() => null);
        if (b && b.lines > 0) {
          showPeriod(range, b.prevFrom, b.total, b.prevTotal, 'bill');
          shown = true;
        }
      }
      if (!shown) showPeriod(range, c.prevFrom, total, prevTotal, 'metered');
      k.ok();
      const names = new Set([...now.keys(), ...prev.keys()]);
      const movers = [...names].map((n) => ({ n, a: prev.get(n) || 0, b: now.get(n) || 0 }))
        .map((m) => ({ ...m, d: m.b - m.a }))
        .filter((m) => Math.abs(m.d) >= 0.005)
        .sort((x, y) => Math.abs(y.d) - Math.abs(x.d))
        .slice(0, 10);
      fill(p.el.querySelector('tbody'), movers.map((m) => row([
        m.n, [money(m.a), 'num'], [money(m.b), 'num'],
        [`${signedMoney(m.d)} (${pct(m.a ? m.d / m.a : NaN)})`, 'num ' + (m.d > 0 ? 'up' : 'down')],
      ])), 'No change of a cent or more.', 4);
      p.ok();
    } catch (e) {
      p.fail(e);
      k.fail(e);
    }
  }

  async function loadAnomalies(range) {
    const p = panel('p-anomalies');
    p.loading();
    try {
      const a = await api('/admin/anomalies', { data: state.data, from: iso(range.from), to: iso(range.to) });
      saw('anomalies', a.data);
      const tag = tagFilter();
      const list = (a.anomalies || []).filter((x) => {
        const d = x.dimensions || {};
        return (!state.api || !d.api || d.api === state.api)
          && (!state.stage || !d.stage || d.stage === state.stage)
          && (!tag || !d['tag:' + tag.name] || d['tag:' + tag.name] === tag.value);
      }).sort((x, y) => dec(y.impact) - dec(x.impact));
      const when = (x) => {
        const s = new Date(x.start);
        const e = new Date(x.end);
        return `${hourLabel(s)} – ${e - s > DAY ? hourLabel(e) : pad(e.getUTCHours()) + ':00'}`;
      };
      fill(p.el.querySelector('tbody'), list.map((x) => row([
        when(x),
        Object.entries(x.dimensions || {}).map(([k, v]) => `${k}=${v}`).join(', ') || 'total',
        [money(x.expected), 'num'], [money(x.actual), 'num'], [money(x.impact), 'num up'],
        [num.format(x.score), 'num'],
        (x.cause || []).map((c) => `${c.dimension}=${c.value} (${num.format(c.share * 100)}%)`).join('; ') || '—',
      ])), 'No anomaly in this period.', 7);
      p.el.dataset.count = String(list.length);
      p.ok();
    } catch (e) {
      saw('anomalies', null);
      p.fail(e);
    }
  }

  function evidenceText(ev) {
    if (ev === null || ev === undefined) return '';
    if (typeof ev !== 'object') return String(ev);
    if (Array.isArray(ev)) return ev.map(evidenceText).join('; ');
    return Object.entries(ev).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
  }

  async function loadRecommendations() {
    const p = panel('p-recommendations');
    p.loading();
    const total = document.getElementById('r-total');
    try {
      // Over a bill only the REST-to-HTTP advice can be priced (the answer says `data`).
      const r = await api('/admin/recommendations', { data: state.data });
      // Filtered by the dimensions a recommendation names (else the `api/stage` target).
      const tag = tagFilter();
      const list = (r.recommendations || []).filter((x) => {
        const d = x.dimensions || {};
        const [tApi, tStage] = typeof x.target === 'string' ? x.target.split('/') : [];
        const apiOf = d.api ?? tApi;
        const stageOf = d.stage ?? tStage;
        return (!state.api || !apiOf || apiOf === state.api)
          && (!state.stage || !stageOf || stageOf === state.stage)
          && (!tag || !d['tag:' + tag.name] || d['tag:' + tag.name] === tag.value);
      }).sort((x, y) => dec(y.monthly_saving) - dec(x.monthly_saving));
      total.textContent = list.length
        ? `${money(list.reduce((a, x) => a + dec(x.monthly_saving), 0))} / month to save` : '';
      fill(p.el.querySelector('tbody'), list.map((x) => row([
        [x.kind, 'nowrap'], [x.target === undefined ? '' : evidenceText(x.target), 'nowrap'],
        [money(x.monthly_saving), 'num'], x.action || '', evidenceText(x.evidence),
      ])), 'Nothing to recommend.', 5);
      p.ok();
    } catch (e) {
      total.textContent = '';
      fill(p.el.querySelector('tbody'), [], 'Not available.', 5);
      if (e.status === 404) p.fail(`Recommendations are not available here (${e.message}).`, 'unavailable');
      else p.fail(e);
    }
  }

  async function loadWebsockets(range) {
    const p = panel('p-websockets');
    p.loading();
    if (billSelected()) {
      p.meteredOnly('live connections are the gateway\'s own, and connection minutes against messages come from its meter.');
      return;
    }
    const problems = [];
    // Live connections: optional (404 when this gateway has no WebSocket API or no support).
    try {
      const c = await api('/admin/connections');
      const live = (c.connections || []).filter((x) => (!state.api || x.api === state.api)
        && (!state.stage || x.stage === state.stage));
      const filtered = state.api || state.stage;
      document.getElementById('w-count').textContent = num.format(filtered ? live.length : (c.count ?? live.length));
      const avg = filtered
        ? (live.length ? live.reduce((a, x) => a + dec(x.age_ms), 0) / live.length : 0)
        : dec(c.avg_duration_ms);
      document.getElementById('w-avg').textContent = live.length || c.count ? duration(avg) : '—';
      fill(document.querySelector('#w-live tbody'), live.slice()
        .sort((x, y) => dec(y.age_ms) - dec(x.age_ms)).slice(0, 20).map((x) => row([
          x.connection_id, `${x.api} / ${x.stage}`, [duration(x.age_ms), 'num'],
          [duration(x.idle_ms), 'num'], [num.format(dec(x.messages_in)), 'num'],
          [num.format(dec(x.messages_out)), 'num'], [money(x.cost), 'num'],
        ])), 'No live connection.', 7);
    } catch (e) {
      document.getElementById('w-count').textContent = '—';
      document.getElementById('w-avg').textContent = '—';
      fill(document.querySelector('#w-live tbody'), [], 'Live connections: not available.', 7);
      problems.push(e.status === 404 ? `Live connections are not available here (${e.message}).` : e.message);
    }
    // Connection minutes against messages in the period, per WebSocket API.
    try {
      const by = filterBy([]);
      const [u, c] = await Promise.all([
        api('/admin/usage', { from: iso(range.from), to: iso(range.to), by }),
        api('/admin/cost', { from: iso(range.from), to: iso(range.to), by }),
      ]);
      const apis = new Map();
      const get = (a) => { if (!apis.has(a)) apis.set(a, { ms: 0, msgs: 0, connCost: 0, msgCost: 0 }); return apis.get(a); };
      for (const r of u.rows.filter(passes)) {
        if (r.meter === 'websocket_connection_ms') get(r.api).ms += dec(r.billable_units);
        if (r.meter === 'websocket_messages') get(r.api).msgs += dec(r.billable_units);
      }
      for (const r of c.rows.filter(passes)) {
        if (r.meter === 'websocket_connection_minutes') get(r.api).connCost += dec(r.cost);
        if (r.meter === 'websocket_messages') get(r.api).msgCost += dec(r.cost);
      }
      const list = [...apis.entries()].filter(([, v]) => v.ms > 0 || v.msgs > 0);
      let ms = 0; let msgs = 0;
      fill(document.querySelector('#w-apis tbody'), list.map(([a, v]) => {
        ms += v.ms; msgs += v.msgs;
        const minutes = v.ms / 60000;
        const cost = v.connCost + v.msgCost;
        return row([a, [num.format(minutes), 'num'], [num.format(v.msgs), 'num'],
          [v.msgs ? num.format((minutes / v.msgs) * 1000) : '—', 'num'],
          [cost ? `${num.format((v.connCost / cost) * 100)}% of ${money(cost)}` : '—', 'num']]);
      }), 'No WebSocket usage in this period.', 5);
      document.getElementById('w-ratio').textContent = msgs ? num.format(ms / 60000 / msgs) : '—';
      document.getElementById('w-ratio-note').textContent = msgs
        ? `${num.format(ms / 60000)} minutes, ${num.format(msgs)} messages in the period` : '';
    } catch (e) {
      problems.push(e.message);
    }
    if (problems.length) p.fail(problems.join(' '), problems.every((m) => m.includes('not available')) ? 'partial' : 'error');
    else p.ok();
  }

  // --- wiring -------------------------------------------------------------------------------
  function syncForm() {
    document.getElementById('f-data').value = state.data;
    document.getElementById('f-period').value = state.period;
    document.getElementById('f-from').value = state.from;
    document.getElementById('f-to').value = state.to;
    document.getElementById('c-by').value = state.by;
    document.getElementById('c-interval').value = state.interval;
    document.getElementById('m-by').value = state.movers;
    document.body.classList.toggle('show-custom', state.period === 'custom');
  }

  async function refresh(what) {
    const g = ++generation;
    document.body.dataset.state = 'loading';
    writeUrl();
    syncForm();
    const range = periodRange();
    const jobs = [];
    const all = !what;
    if (all || what === 'filters') {
      for (const v of Object.keys(seen)) delete seen[v];
      jobs.push(loadDimensions(range).catch((e) => panel('p-kpis').fail(e)));
      jobs.push(loadMonth(), loadMovers(range), loadAnomalies(range), loadRecommendations(),
        loadWebsockets(range));
    }
    if (all || what === 'filters' || what === 'over-time') jobs.push(loadOverTime(range));
    if (what === 'movers') jobs.push(loadMovers(range));
    await Promise.allSettled(jobs);
    if (g === generation) document.body.dataset.state = 'ready';
  }

  function onChange(id, key, what) {
    document.getElementById(id).addEventListener('change', (ev) => {
      state[key] = ev.target.value;
      if (key === 'api') state.stage = '';
      if (key === 'data') { state.api = ''; state.stage = ''; checkBy(); }
      if (key === 'period' && state.period === 'custom' && !state.from) {
        const r = periodRange();
        state.from = iso(r.from).slice(0, 10);
        state.to = iso(new Date(r.to - DAY)).slice(0, 10);
      }
      refresh(what);
    });
  }

  function start() {
    onChange('f-data', 'data', 'filters');
    onChange('f-period', 'period', 'filters');
    onChange('f-from', 'from', 'filters');
    onChange('f-to', 'to', 'filters');
    onChange('f-api', 'api', 'filters');
    onChange('f-stage', 'stage', 'filters');
    onChange('f-tag', 'tag', 'filters');
    onChange('c-by', 'by', 'over-time');
    onChange('c-interval', 'interval', 'over-time');
    onChange('m-by', 'movers', 'movers');
    document.getElementById('f-refresh').addEventListener('click', () => refresh());
    document.getElementById('filters').addEventListener('submit', (e) => { e.preventDefault(); refresh(); });
    // For people poking from the console and for the browser test.
    window.tollgate = { state, charts, refresh, seen, generation: () => generation };
    if (!['auto', 'metered', 'bill'].includes(state.data)) state.data = 'auto';
    checkBy();
    refresh();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
