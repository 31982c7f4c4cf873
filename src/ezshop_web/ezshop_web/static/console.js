// EZShop console: renders the store's state from /api/stream (server-sent events). Every value
// from the store goes into the page as text (textContent), never as HTML.
'use strict';

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const state = { customers: [] };

function money(cents, currency) {
  return (cents / 100).toFixed(2) + ' ' + (currency || '');
}

function clock(seconds) {
  if (seconds === null || seconds === undefined) return '';
  return new Date(seconds * 1000).toLocaleTimeString();
}

function celsius(value) {
  return value.toFixed(1) + ' °C';
}

function ago(seconds) {
  if (seconds < 60) return Math.floor(seconds) + ' s ago';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
  return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' min ago';
}

// The server sends each reading's age when it sends the table; the page counts on from there.
function fridgeAges() {
  if (!state.fridges) return;
  const since = (Date.now() - state.fridges.at) / 1000;
  for (const u of state.fridges.units) {
    const age = document.querySelector('#fridges tr[data-fridge="' + CSS.escape(u.fridge_id)
                                       + '"] .age');
    if (age) age.textContent = u.age_s === null ? 'never' : ago(u.age_s + since);
  }
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function body(tableId) {
  const tbody = document.querySelector('#' + tableId + ' tbody');
  tbody.replaceChildren();
  return tbody;
}

function cartText(lines) {
  return lines.map((l) => l.quantity + ' × ' + l.name).join(', ') || 'empty';
}

function nameOf(customerId) {
  const known = state.customers.find((c) => c.customer_id === customerId);
  return known ? known.name : customerId;
}

const render = {
  presence(people) {
    const tbody = body('presence');
    for (const p of people) {
      const row = tbody.insertRow();
      row.dataset.customer = p.customer_id;
      cell(row, p.name, 'name');
      cell(row, clock(p.entered_at));
      cell(row, p.opened_by);
      cell(row, cartText(p.lines), 'cart');
      cell(row, money(p.total_cents, p.currency), 'total');
      const link = document.createElement('button');
      link.type = 'button'; link.textContent = 'Personal link'; link.className = 'link';
      link.addEventListener('click', () => personalLink(p.customer_id, p.name));
      row.insertCell().append(link);
    }
    document.getElementById('presence-count').textContent = people.length;
  },
  customers(customers) {
    state.customers = customers;
    const tbody = body('customers');
    for (const c of customers) {
      const row = tbody.insertRow();
      row.dataset.customer = c.customer_id;
      cell(row, c.name, 'name');
      cell(row, c.customer_id);
      const link = document.createElement('button');
      link.type = 'button'; link.textContent = 'Personal link'; link.className = 'link';
      link.addEventListener('click', () => personalLink(c.customer_id, c.name));
      row.insertCell().append(link);
      const forget = document.createElement('button');
      forget.type = 'button'; forget.textContent = 'Forget'; forget.className = 'forget';
      forget.addEventListener('click', () => forgetCustomer(c.customer_id, c.name));
      row.insertCell().append(forget);
    }
    document.getElementById('customers-count').textContent = customers.length;
  },
  inventory(items) {
    const tbody = body('inventory');
    for (const item of items) {
      const row = tbody.insertRow();
      row.dataset.item = item.item_id;
      if (item.stock <= item.low_stock_threshold) row.className = 'low';
      cell(row, item.name);
      cell(row, money(item.price_cents, ''));
      cell(row, String(item.stock), 'stock');
      const form = document.createElement('form');
      const input = document.createElement('input');
      input.type = 'number'; input.min = '0'; input.max = '100000'; input.required = true;
      input.value = item.stock; input.name = 'stock';
      const button = document.createElement('button');
      button.type = 'submit'; button.textContent = 'Set';
      form.append(input, button);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        write('/api/stock/' + encodeURIComponent(item.item_id),
              { stock: Number(input.value) }, 'stock-message');
      });
      row.insertCell().append(form);
    }
  },
  receipts(receipts) {
    const tbody = body('receipts');
    for (const r of receipts) {
      const row = tbody.insertRow();
      row.dataset.receipt = r.receipt_id;
      cell(row, clock(r.exited_at) + ' (' + r.ended_by + ')');
      cell(row, r.customer_name || '(forgotten)', 'name');
      cell(row, cartText(r.lines));
      cell(row, money(r.total_cents, r.currency), 'total');
      cell(row, String(r.revision), 'revision');
      cell(row, r.visit_id);
    }
  },
  alerts(alerts) {
    const list = document.getElementById('alerts');
    list.replaceChildren();
    for (const a of alerts.slice(0, 50)) {
      const li = document.createElement('li');
      li.className = a.level + (a.acknowledged_by ? ' acknowledged' : '');
      li.dataset.alert = a.alert_id;
      li.append(clock(a.stamp) + ' ' + a.kind + ': ' + a.message + ' ');
      if (a.acknowledged_by) {
        const seen = document.createElement('span');
        seen.className = 'seen';
        seen.textContent = '(seen by ' + a.acknowledged_by + ' ' + clock(a.acknowledged_at) + ')';
        li.append(seen);
      } else {
        const ack = document.createElement('button');
        ack.type = 'button'; ack.textContent = 'Acknowledge'; ack.className = 'ack';
        ack.addEventListener('click', () => write('/api/alerts/' + a.alert_id + '/ack', {},
                                                  'alerts-message'));
        li.append(ack);
      }
      list.append(li);
    }
    document.getElementById('alerts-count').textContent =
      alerts.filter((a) => !a.acknowledged_by).length;
  },
  fridges(units) {
    state.fridges = { units, at: Date.now() };
    const tbody = body('fridges');
    for (const u of units) {
      const row = tbody.insertRow();
      row.dataset.fridge = u.fridge_id;
      row.className = 'fridge-' + u.state;
      const name = document.createElement('th');
      name.scope = 'row'; name.className = 'name'; name.textContent = u.name;
      row.append(name);
      cell(row, u.kind, 'kind');
      cell(row, u.value_c === null ? '—' : celsius(u.value_c), 'temperature');
      cell(row, u.min_c.toFixed(1) + ' to ' + celsius(u.max_c), 'limits');
      cell(row, '', 'age');
      const stateText = u.state_label + (u.alarm ? ' (too ' + (u.alarm === 'high' ? 'warm'
        : 'cold') + ')' : '') + (u.sensor_dead && u.state === 'alarm' ? ', probe silent' : '');
      cell(row, stateText, 'state');
    }
    document.getElementById('fridges-alarms').textContent =
      units.filter((u) => u.state === 'alarm').length;
    fridgeAges();
  },
  health(statuses) {
    const tbody = body('health');
    for (const s of statuses) {
      const row = tbody.insertRow();
      row.className = s.level;
      cell(row, s.name);
      cell(row, s.level);
      cell(row, s.message);
    }
  },
};

async function write(url, payload, messageId) {
  const message = document.getElementById(messageId);
  try {
    const response = await fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': CSRF },
      body: JSON.stringify(payload),
    });
    const answer = await response.json();
    message.textContent = answer.ok ? 'Done.' : 'Not done: ' + answer.message;
    message.className = answer.ok ? 'ok' : 'error';
    return answer.ok;
  } catch (err) {
    message.textContent = 'Not done: the console could not reach the store.';
    message.className = 'error';
    return false;
  }
}

async function personalLink(customerId, name) {
  const message = document.getElementById('link-message');
  const response = await fetch('/api/customers/' + encodeURIComponent(customerId) + '/link', {
    method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': CSRF },
  });
  const answer = await response.json();
  message.textContent = answer.ok ? 'Personal link for ' + name + ' (give it to them only): '
    + answer.url : 'No link: ' + answer.message;
  message.className = answer.ok ? 'ok' : 'error';
}

async function forgetCustomer(customerId, name) {
  if (!window.confirm('Forget ' + name + '? Their name and face data are deleted; they can no '
                      + 'longer be recognised. Past sales stay, anonymised.')) return;
  write('/api/customers/' + encodeURIComponent(customerId) + '/forget', {}, 'link-message');
}

// Enrolment: the chosen files and the frames taken with the camera go up as one form.
const taken = [];

async function useCamera() {
  const video = document.getElementById('enrol-video');
  const message = document.getElementById('enrol-message');
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    video.hidden = false;
    document.getElementById('enrol-take').hidden = false;
  } catch (err) {
    message.textContent = 'No camera: allow this page to use the camera, or upload photos.';
    message.className = 'error';
  }
}

function takePhoto() {
  const video = document.getElementById('enrol-video');
  if (!video.videoWidth) return;
  const canvas = document.getElementById('enrol-frame');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  canvas.toBlob((blob) => {
    taken.push(blob);
    document.getElementById('enrol-taken').textContent = taken.length + ' taken';
  }, 'image/jpeg', 0.92);
}

async function enrol(event) {
  event.preventDefault();
  const form = document.getElementById('enrol');
  const message = document.getElementById('enrol-message');
  const data = new FormData();
  data.append('name', document.getElementById('enrol-name').value);
  if (document.getElementById('enrol-consent').checked) data.append('consent', 'yes');
  for (const file of document.getElementById('enrol-photos').files) data.append('photos', file);
  taken.forEach((blob, i) => data.append('photos', blob, 'camera ' + (i + 1) + '.jpg'));
  message.textContent = 'Checking the photos…';
  message.className = '';
  let answer;
  try {
    const response = await fetch('/api/customers', {
      method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': CSRF }, body: data,
    });
    answer = await response.json();
  } catch (err) {
    message.textContent = 'Not enrolled: the console could not reach the store.';
    message.className = 'error';
    return;
  }
  const refusals = (answer.refused || []).map((r) => r.photo + ': ' + r.reason);
  if (answer.ok) {
    message.textContent = 'Enrolled ' + answer.name + ' with ' + answer.photos_used
      + ' photo(s). Their personal link (shown once, give it to them only): ' + answer.url
      + (refusals.length ? ' — not used: ' + refusals.join('; ') : '');
    message.className = 'ok';
    form.reset();
    taken.length = 0;
    document.getElementById('enrol-taken').textContent = '0 taken';
  } else {
    message.textContent = 'Not enrolled: ' + answer.message
      + (answer.already_enrolled ? ' (' + nameOf(answer.already_enrolled) + ')' : '');
    message.className = 'error';
  }
}

async function loadReview() {
  const response = await fetch('/api/review', { credentials: 'same-origin' });
  const answer = await response.json();
  const message = document.getElementById('review-message');
  if (!answer.ok) {
    message.textContent = 'Review queue unavailable: ' + answer.message;
    message.className = 'error';
    return;
  }
  const tbody = body('review');
  for (const a of answer.actions) {
    const row = tbody.insertRow();
    row.dataset.event = a.event_id;
    cell(row, clock(a.stamp));
    cell(row, a.shelf_id ? a.shelf_id + '/' + a.lane_id : '-');
    cell(row, a.item_id);
    cell(row, String(a.quantity));
    cell(row, a.reason);
    cell(row, a.candidates.map((c) => nameOf(c.customer_id) + ' ' + c.score.toFixed(2))
      .join(', ') || 'nobody seen');
    const pictures = row.insertCell();
    pictures.className = 'snapshots';
    for (const camera of a.snapshots || []) {
      const url = '/api/review/' + encodeURIComponent(a.event_id) + '/snapshot/'
        + encodeURIComponent(camera);
      const link = document.createElement('a');
      link.href = url; link.target = '_blank'; link.rel = 'noopener';
      const img = document.createElement('img');
      img.src = url; img.alt = camera + ' at that moment'; img.title = camera;
      link.append(img);
      pictures.append(link);
    }
    if (!(a.snapshots || []).length) pictures.textContent = '-';
    const decide = row.insertCell();
    const select = document.createElement('select');
    select.name = 'customer';
    const ids = [...new Set([...a.candidates.map((c) => c.customer_id)
      .filter((id) => !id.startsWith('unknown:')), ...state.customers.map((c) => c.customer_id)])];
    for (const id of ids) {
      const option = document.createElement('option');
      option.value = id; option.textContent = nameOf(id);
      select.append(option);
    }
    const assign = document.createElement('button');
    assign.type = 'button'; assign.textContent = 'Assign'; assign.className = 'assign';
    assign.addEventListener('click', async () => {
      if (await write('/api/review/' + encodeURIComponent(a.event_id),
                      { customer_id: select.value }, 'review-message')) loadReview();
    });
    const dismiss = document.createElement('button');
    dismiss.type = 'button'; dismiss.textContent = 'Dismiss'; dismiss.className = 'dismiss';
    dismiss.addEventListener('click', async () => {
      if (await write('/api/review/' + encodeURIComponent(a.event_id),
                      { customer_id: '' }, 'review-message')) loadReview();
    });
    decide.append(select, assign, dismiss);
  }
  document.getElementById('review-count').textContent = answer.actions.length;
}

function connect() {
  const badge = document.getElementById('connection');
  const source = new EventSource('/api/stream');
  source.addEventListener('snapshot', (e) => {
    const snapshot = JSON.parse(e.data);
    render.customers(snapshot.customers);
    for (const [section, data] of Object.entries(snapshot)) render[section](data);
    badge.textContent = 'live'; badge.className = 'badge live';
    loadReview();
  });
  for (const section of Object.keys(render)) {
    source.addEventListener(section, (e) => {
      render[section](JSON.parse(e.data));
      if (section === 'alerts') loadReview();  // a new held action comes with an alert
    });
  }
  source.onerror = () => { badge.textContent = 'reconnecting…'; badge.className = 'badge'; };
}

document.getElementById('review-refresh').addEventListener('click', loadReview);
document.getElementById('alerts-ack-all').addEventListener('click',
  () => write('/api/alerts/all/ack', {}, 'alerts-message'));
document.getElementById('enrol').addEventListener('submit', enrol);
document.getElementById('enrol-camera').addEventListener('click', useCamera);
document.getElementById('enrol-take').addEventListener('click', takePhoto);
setInterval(fridgeAges, 1000);
connect();
