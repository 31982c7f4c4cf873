// The customer's page: their live cart and receipts from /me/stream; a notice when they leave.
'use strict';

function money(cents, currency) {
  return (cents / 100).toFixed(2) + ' ' + (currency || '');
}

function renderCart(cart) {
  const tbody = document.querySelector('#cart tbody');
  tbody.replaceChildren();
  const status = document.getElementById('cart-status');
  if (!cart) {
    status.textContent = 'You are not in the store.';
    document.getElementById('cart-total').textContent = '0.00';
    return;
  }
  status.textContent = cart.lines.length ? 'Updated as you pick things up.' : 'Your cart is empty.';
  for (const line of cart.lines) {
    const row = tbody.insertRow();
    row.dataset.item = line.item_id;
    for (const text of [line.name, String(line.quantity),
      money(line.unit_price_cents, cart.currency), money(line.line_total_cents, cart.currency)]) {
      row.insertCell().textContent = text;
    }
  }
  document.getElementById('cart-total').textContent = money(cart.total_cents, cart.currency);
}

function addReceipt(receipt, prepend) {
  const tbody = document.querySelector('#receipts tbody');
  const row = prepend ? tbody.insertRow(0) : tbody.insertRow();
  row.dataset.receipt = receipt.receipt_id;
  row.insertCell().textContent = new Date(receipt.exited_at * 1000).toLocaleString();
  row.insertCell().textContent = receipt.lines.map((l) => l.quantity + ' × ' + l.name)
    .join(', ') || 'nothing';
  row.insertCell().textContent = money(receipt.total_cents, receipt.currency);
  row.insertCell().textContent = String(receipt.revision);
}

function exitNotice(receipt) {
  const text = receipt.revision > 1
    ? 'Your receipt was corrected: the total is now ' + money(receipt.total_cents, receipt.currency) + '.'
    : 'Thank you for shopping! You were charged ' + money(receipt.total_cents, receipt.currency) + '.';
  const notice = document.getElementById('exit-notice');
  notice.textContent = text;
  notice.hidden = false;
  if ('Notification' in window && Notification.permission === 'granted') {
    new Notification('EZShop', { body: text });
  }
}

const source = new EventSource('/me/stream');
const badge = document.getElementById('connection');
source.addEventListener('state', (e) => {
  const state = JSON.parse(e.data);
  renderCart(state.cart);
  document.querySelector('#receipts tbody').replaceChildren();
  for (const receipt of state.receipts) addReceipt(receipt, false);
  badge.textContent = 'live';
  badge.className = 'badge live';
});
source.addEventListener('cart', (e) => renderCart(JSON.parse(e.data)));
source.addEventListener('receipt', (e) => {
  const receipt = JSON.parse(e.data);
  addReceipt(receipt, true);
  exitNotice(receipt);
});
source.onerror = () => { badge.textContent = 'reconnecting…'; badge.className = 'badge'; };
