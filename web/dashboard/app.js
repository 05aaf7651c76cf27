/* app.js — polls /api/status every 2 s and draws the broker's line and one card per member.
 *
 * Plain JavaScript, no framework, nothing fetched but /api/status. Every text
 * that comes from the broker goes into the page as text (never as HTML).
 * A member's state is shown as a word and a symbol as well as a colour.
 * With a token the broker keeps the session in an HttpOnly cookie (given
 * through its login page or ?token= in the URL): the script never holds the
 * token; when /api/status answers 401 it shows the login form. */
(function () {
  'use strict';

  var POLL_MS = 2000;            /* how often /api/status is asked */
  var STALE_MS = 3 * POLL_MS;    /* no good answer for this long: the page says it is stale */
  var FETCH_TIMEOUT_MS = 5000;

  var TEXT = {
    en: {
      title: 'federation status',
      other: '한국어',
      states: { up: 'up', stale: 'stale', down: 'down', never: 'never seen' },
      broker: 'broker', brokerStates: { up: 'up', degraded: 'degraded' },
      uptime: 'up', pgOk: 'PostgreSQL reachable', pgDown: 'PostgreSQL UNREACHABLE',
      since: 'since', commit: 'commit p50/p99', connections: 'connections',
      inFlight: 'batches in flight', globalSeq: 'global_seq',
      stateSince: 'state since', lastSeen: 'last seen', lastMessage: 'last message',
      rate: 'msgs/min', outbox: 'outbox', oldest: 'oldest', lag: 'feed lag',
      rejects: 'rejects', none: '—', never: 'never', version: 'version',
      sparkTitle: function (max) { return 'messages per minute, last 30 min (max ' + max + ')'; },
      ago: function (d) { return d + ' ago'; }, now: 'just now',
      units: { d: ' d', h: ' h', min: ' min', s: ' s' },
      updated: function (d) { return 'updated ' + d; },
      staleData: function (d, why) { return 'NOT UPDATING — last update ' + d + (why ? ' (' + why + ')' : ''); },
      noData: function (why) { return 'no data yet' + (why ? ': ' + why : ''); },
      waiting: 'waiting for the first update…',
      tokenNeeded: 'access token needed',
      tokenPrompt: 'This dashboard needs the broker\'s access token:', tokenSave: 'Use token',
      foot: 'Refreshes every 2 s from /api/status. Times are relative to the broker\'s clock.',
      noMembers: 'No members are registered.'
    },
    ko: {
      title: '연합 상태',
      other: 'English',
      states: { up: '정상', stale: '지연', down: '중단', never: '미접속' },
      broker: '브로커', brokerStates: { up: '정상', degraded: '저하' },
      uptime: '가동', pgOk: 'PostgreSQL 연결됨', pgDown: 'PostgreSQL 연결 끊김',
      since: '이후', commit: '커밋 p50/p99', connections: '연결',
      inFlight: '처리 중 배치', globalSeq: 'global_seq',
      stateSince: '상태 시작', lastSeen: '마지막 수신', lastMessage: '마지막 메시지',
      rate: '분당 메시지', outbox: '아웃박스', oldest: '가장 오래된', lag: '피드 지연',
      rejects: '거부', none: '—', never: '없음', version: '버전',
      sparkTitle: function (max) { return '최근 30분 분당 메시지 (최대 ' + max + ')'; },
      ago: function (d) { return d + ' 전'; }, now: '방금',
      units: { d: '일', h: '시간', min: '분', s: '초' },
      updated: function (d) { return d + ' 갱신'; },
      staleData: function (d, why) { return '갱신 안 됨 — 마지막 갱신 ' + d + (why ? ' (' + why + ')' : ''); },
      noData: function (why) { return '아직 데이터 없음' + (why ? ': ' + why : ''); },
      waiting: '첫 갱신을 기다리는 중…',
      tokenNeeded: '접근 토큰 필요',
      tokenPrompt: '이 대시보드는 브로커의 접근 토큰이 필요합니다:', tokenSave: '토큰 사용',
      foot: '/api/status에서 2초마다 갱신합니다. 시간은 브로커 시계 기준입니다.',
      noMembers: '등록된 회원이 없습니다.'
    }
  };
  var SYMBOL = { up: '●', stale: '◐', down: '✕', never: '○' };

  var params = new URLSearchParams(window.location.search);
  var store = s_storage();
  var lang = s_pick_lang();
  var doc = null;        /* the last /api/status answered */
  var lastOk = 0;        /* Date.now() of that answer */
  var lastError = '';    /* why the last poll failed; '' when it did not */
  var pending = null;    /* the timer of the next poll */
  var inFlight = false;  /* a poll is waiting for its answer: no second one */

  if (params.has('token')) {
    /* The broker answered it with the session cookie: not in the address bar (nor in the history). */
    params.delete('token');
    var q = params.toString();
    window.history.replaceState(null, '', window.location.pathname + (q ? '?' + q : ''));
  }

  function s_storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  function s_pick_lang() {
    var l = params.get('lang') || (store && store.getItem('fedbus.lang')) || navigator.language || 'en';
    return l.slice(0, 2) === 'ko' ? 'ko' : 'en';
  }

  function T() { return TEXT[lang]; }

  /* el('div', {class: 'x'}, child, 'text', ...): an element; strings become text nodes. */
  function el(tag, attrs) {
    var e = tag === 'svg' || tag === 'polyline' || tag === 'polygon' || tag === 'title'
      ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
    var k;
    for (k in attrs || {}) {
      if (Object.prototype.hasOwnProperty.call(attrs, k) && attrs[k] !== null && attrs[k] !== undefined) {
        e.setAttribute(k, attrs[k]);
      }
    }
    for (k = 2; k < arguments.length; k++) {
      var c = arguments[k];
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  /* "3 h 12 min", "45 s", "2 d 4 h": the two largest units of a duration in seconds. */
  function fmtDur(sec) {
    var u = T().units;
    sec = Math.max(0, Math.floor(sec));
    var parts = [[86400, u.d], [3600, u.h], [60, u.min], [1, u.s]];
    for (var i = 0; i < parts.length; i++) {
      if (sec >= parts[i][0] || i === parts.length - 1) {
        var a = Math.floor(sec / parts[i][0]);
        var s = a + parts[i][1];
        if (i + 1 < parts.length) {
          var b = Math.floor((sec % parts[i][0]) / parts[i + 1][0]);
          if (b > 0 && i < 2) s += ' ' + b + parts[i + 1][1];
        }
        return s;
      }
    }
    return '0' + u.s;
  }

  /* How long before the broker's own clock (generated_at) an RFC 3339 time was. */
  function ago(iso) {
    if (!iso) return T().never;
    var ref = Date.parse(doc.generated_at);
    var t = Date.parse(iso);
    if (isNaN(ref) || isNaN(t)) return iso;
    var sec = (ref - t) / 1000;
    return sec < 1 ? T().now : T().ago(fmtDur(sec));
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  /* A clock time in the viewer's time zone, with the date when not today. */
  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso || T().none;
    var s = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    var now = new Date();
    if (d.toDateString() !== now.toDateString()) {
      s = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + s;
    }
    return s;
  }

  function num(n, digits) {
    if (n === null || n === undefined || isNaN(n)) return T().none;
    return Number(n).toLocaleString(lang === 'ko' ? 'ko-KR' : 'en-US',
      { maximumFractionDigits: digits || 0, minimumFractionDigits: digits || 0 });
  }

  function ms(sec) { return sec === null || sec === undefined ? T().none : num(sec * 1000, sec < 0.01 ? 1 : 0) + ' ms'; }

  /* An inline SVG line of series (oldest first), scaled to its own maximum. */
  function sparkline(series) {
    if (!series || !series.length) return null;
    var w = 120, h = 28, max = Math.max.apply(null, series.concat([1]));
    var step = series.length > 1 ? w / (series.length - 1) : w;
    var pts = series.map(function (v, i) {
      return (i * step).toFixed(1) + ',' + (h - 1 - (Math.max(0, v) / max) * (h - 2)).toFixed(1);
    });
    return el('svg', { class: 'spark', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h, role: 'img',
                       'aria-label': T().sparkTitle(num(max)) },
      el('title', null, T().sparkTitle(num(max))),
      el('polygon', { class: 'spark-area', points: '0,' + h + ' ' + pts.join(' ') + ' ' + ((series.length - 1) * step).toFixed(1) + ',' + h }),
      el('polyline', { class: 'spark-line', points: pts.join(' ') }));
  }

  function badge(stateName, words, cls) {
    return el('span', { class: 'badge ' + cls + '-' + stateName },
      el('span', { class: 'sym', 'aria-hidden': 'true' }, SYMBOL[stateName] || '■'),
      el('span', { class: 'state-label' }, words[stateName] || stateName));
  }

  function drawBroker(b) {
    var t = T(), pg = b.postgres || {};
    var lat = pg.commit_latency_seconds || {};
    var pgPart = pg.reachable
      ? el('span', { class: 'pg pg-ok', 'data-pg': 'up' }, '✓ ' + t.pgOk)
      : el('span', { class: 'pg pg-down', 'data-pg': 'down' }, '✕ ' + t.pgDown +
          (pg.since ? ' ' + (lang === 'ko' ? clock(pg.since) + ' ' + t.since : t.since + ' ' + clock(pg.since)) +
           ' (' + fmtDur((Date.parse(doc.generated_at) - Date.parse(pg.since)) / 1000) + ')' : ''));
    var st = b.state === 'degraded' ? 'down' : 'up';
    return [
      el('span', { class: 'badge state-' + st, 'data-state': b.state },
        el('span', { class: 'sym', 'aria-hidden': 'true' }, st === 'up' ? '●' : '▲'),
        el('span', { class: 'state-label' }, t.broker + ' ' + (t.brokerStates[b.state] || b.state))),
      el('span', null, 'v' + (b.version || '?')),
      el('span', null, t.uptime + ' ' + fmtDur(b.uptime_seconds || 0)),
      pgPart,
      el('span', null, t.commit + ' ' + ms(lat.p50) + ' / ' + ms(lat.p99)),
      el('span', null, t.connections + ' ' + num(b.connections)),
      el('span', null, t.inFlight + ' ' + num(b.batches_in_flight)),
      el('span', { class: 'seq' }, t.globalSeq + ' ' + num(b.global_seq))
    ];
  }

  function fact(label, value, cls) {
    return [el('dt', null, label), el('dd', { class: cls || null }, value)];
  }

  function drawMember(m) {
    var t = T(), th = (doc.broker && doc.broker.thresholds) || {};
    var name = m.name || {};
    var first = lang === 'ko' ? (name.ko || name.en) : (name.en || name.ko);
    var second = lang === 'ko' ? name.en : name.ko;
    var facts = [];
    var rejects = m.rejects || {};
    var rejectText = Object.keys(rejects).sort().map(function (r) { return r + ' ' + num(rejects[r]); }).join(', ');
    facts = facts.concat(
      fact(t.stateSince, m.state_since ? clock(m.state_since) + ' (' + ago(m.state_since) + ')' : t.none),
      fact(t.lastSeen, ago(m.last_seen), 'last-seen'),
      fact(t.lastMessage, m.last_message
        ? el('span', null, el('code', null, m.last_message.topic), ' · ' + ago(m.last_message.at)) : t.none),
      fact(t.rate, el('span', { class: 'rate' }, el('span', null, num(m.msgs_per_min, m.msgs_per_min < 10 ? 1 : 0)),
                      sparkline(m.series))),
      fact(t.outbox, m.outbox ? num(m.outbox.depth) + ' · ' + t.oldest + ' ' + fmtDur(m.outbox.oldest_age_seconds || 0) : t.none,
           m.outbox && m.outbox.depth > 0 && m.outbox.oldest_age_seconds > (th.stale_seconds || 15) ? 'warn' : null),
      fact(t.lag, m.feed ? num(m.feed.lag) : t.none, m.feed && m.feed.lag > 1000 ? 'warn' : null));
    if (rejectText) facts = facts.concat(fact(t.rejects, rejectText, 'warn'));
    var dl = el('dl', { class: 'facts' });
    facts.forEach(function (f) { dl.appendChild(f); });
    return el('article', { class: 'card card-' + m.state, 'data-member': m.id, 'data-state': m.state },
      el('header', null,
        badge(m.state, t.states, 'state'),
        el('h2', { class: 'name', lang: lang }, first || m.id),
        second ? el('div', { class: 'name2', lang: lang === 'ko' ? 'en' : 'ko' }, second) : null,
        el('div', { class: 'id' }, el('code', null, m.id),
           m.role ? ' · ' + m.role : '', m.version ? ' · v' + m.version : '',
           m.uptime_seconds !== null && m.uptime_seconds !== undefined ? ' · ' + t.uptime + ' ' + fmtDur(m.uptime_seconds) : '')),
      dl);
  }

  function drawSummary(s) {
    var t = T();
    return ['up', 'stale', 'down', 'never'].map(function (k) {
      return el('span', { class: 'count state-' + k, 'data-count': k },
        el('span', { class: 'sym', 'aria-hidden': 'true' }, SYMBOL[k]), ' ' + t.states[k] + ' ', el('b', null, num(s[k] || 0)));
    });
  }

  function replace(node, children) {
    while (node.firstChild) node.removeChild(node.firstChild);
    children.forEach(function (c) { if (c) node.appendChild(c); });
  }

  function render() {
    if (!doc) return;
    replace(document.getElementById('broker'), drawBroker(doc.broker || {}));
    replace(document.getElementById('summary'), drawSummary(doc.summary || {}));
    var members = (doc.members || []).map(drawMember);
    if (!members.length) members = [el('p', { class: 'empty' }, T().noMembers)];
    replace(document.getElementById('members'), members);
  }

  /* The "last updated" line: fresh, stale (no good answer for STALE_MS or the last poll failed), or none yet. */
  function tick() {
    var u = document.getElementById('updated'), t = T();
    var age = Date.now() - lastOk;
    var fresh = lastOk && !lastError && age < STALE_MS;
    if (!lastOk) {
      u.setAttribute('data-fresh', lastError ? 'no' : 'none');
      u.textContent = lastError ? t.noData(lastError) : t.waiting;
    } else {
      u.setAttribute('data-fresh', fresh ? 'yes' : 'no');
      var d = age < 1000 ? t.now : t.ago(fmtDur(age / 1000));
      u.textContent = fresh ? t.updated(d) : t.staleData(d, lastError);
    }
    document.body.classList.toggle('data-stale', !!lastOk && !fresh);
  }

  function poll() {
    if (inFlight) return;
    if (pending) clearTimeout(pending);
    inFlight = true;
    var headers = { Accept: 'application/json' };
    var ctl = window.AbortController ? new AbortController() : null;
    var timer = ctl ? setTimeout(function () { ctl.abort(); }, FETCH_TIMEOUT_MS) : null;
    fetch('/api/status', { headers: headers, cache: 'no-store', credentials: 'same-origin', signal: ctl ? ctl.signal : undefined })
      .then(function (r) {
        if (r.status === 401) {
          document.getElementById('auth').hidden = false;
          throw new Error(T().tokenNeeded);
        }
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (j) {
        doc = j;
        lastOk = Date.now();
        lastError = '';
        document.getElementById('auth').hidden = true;
        render();
      })
      .catch(function (e) {
        lastError = e && e.name === 'AbortError' ? 'timeout' : (e && e.message) || String(e);
      })
      .then(function () {
        if (timer) clearTimeout(timer);
        inFlight = false;
        tick();
        pending = setTimeout(poll, POLL_MS);
      });
  }

  function applyLang() {
    var t = T();
    document.documentElement.lang = lang;
    Array.prototype.forEach.call(document.querySelectorAll('[data-i18n]'), function (n) {
      n.textContent = t[n.getAttribute('data-i18n')];
    });
    document.getElementById('lang').textContent = t.other;
    document.title = 'fedbus — ' + t.title;
    render();
    tick();
  }

  document.getElementById('lang').addEventListener('click', function () {
    lang = lang === 'ko' ? 'en' : 'ko';
    if (store) store.setItem('fedbus.lang', lang);
    applyLang();
  });

  applyLang();
  setInterval(tick, 1000);
  poll();
}());
