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
      li.className = a.level;
      li.textContent = clock(a.stamp) + ' ' + a.kind + ': ' + a.message;
      list.append(li);
    }
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
connect();
