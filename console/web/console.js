// The ShopMesh console: plain JavaScript, no build step. Every page reads
// the services' own HTTP APIs; the live parts follow their Server-Sent
// Events streams with fetch, because EventSource cannot send a bearer
// token, and a token must never go in a URL.
'use strict';

const $ = (id) => document.getElementById(id);

// Tokens live in this tab only (sessionStorage): a customer's, made at
// sign-up, and the admin's, typed on the Admin page.
const session = {
  get customer() { return JSON.parse(sessionStorage.getItem('shopmesh.customer') || 'null'); },
  set customer(c) { c ? sessionStorage.setItem('shopmesh.customer', JSON.stringify(c)) : sessionStorage.removeItem('shopmesh.customer'); },
  get admin() { return sessionStorage.getItem('shopmesh.admin') || ''; },
  set admin(t) { t ? sessionStorage.setItem('shopmesh.admin', t) : sessionStorage.removeItem('shopmesh.admin'); },
};

// api calls the shop and returns the JSON answer; a problem becomes an
// Error with its detail.
async function api(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { /* not JSON: say the status */ }
  if (!resp.ok) {
    const detail = data && (data.errors && data.errors.length ? data.errors.map((e) => e.message).join('; ') : data.detail);
    throw new Error(detail || resp.status + ' ' + resp.statusText);
  }
  return data;
}

// follow reads a Server-Sent Events stream, calling on[event](data) for
// each event, and starts again a second after the shop ends it (it drops
// a reader that falls behind). onOpen runs at each (re)connection, to read
// again what may have changed while away.
function follow(path, token, on, onOpen) {
  const ctl = { closed: false, abort: null };
  const run = async () => {
    while (!ctl.closed) {
      const abort = new AbortController();
      ctl.abort = abort;
      try {
        const headers = { Accept: 'text/event-stream' };
        if (token) headers.Authorization = 'Bearer ' + token;
        const resp = await fetch(path, { headers, signal: abort.signal });
        if (resp.ok) {
          if (onOpen) onOpen();
          await readEvents(resp.body, on);
        } else if (resp.status === 401 || resp.status === 403) {
          if (on.refused) on.refused(resp.status);
          return;
        }
      } catch (e) {
        if (ctl.closed) return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  run();
  return { close() { ctl.closed = true; if (ctl.abort) ctl.abort.abort(); } };
}

async function readEvents(body, on) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length && on[event]) on[event](JSON.parse(data.join('\n')));
    }
  }
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function money(m) {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: m.currency }).format(m.amount / 100);
  } catch (e) {
    return (m.amount / 100).toFixed(2) + ' ' + m.currency;
  }
}

function say(id, text, error) {
  const p = $(id);
  p.textContent = text;
  p.classList.toggle('error', !!error);
}

function clock(t) {
  const d = new Date(t);
  return d.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function short(id) { return id ? id.slice(0, 8) + '…' : ''; }

let settings = { services: [], edges: [], payments: [], signUp: false };

// ---- Pages ----

function route() {
  const [asked, arg] = location.hash.replace(/^#\/?/, '').split('/');
  const name = ['shop', 'mesh', 'order', 'admin', 'api'].includes(asked) ? asked : 'shop';
  for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== 'page-' + name;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = 'ShopMesh console: ' + name;
  page = name;
  syncStreams();
  if (name === 'order') showOrder(decodeURIComponent(arg || ''));
  if (name === 'mesh') pollConsumers();
}

// ---- Streams ----

// A browser opens at most six connections to the shop, and every stream
// holds one, so a tab follows only what the page shown needs: the shop,
// the stock and the customer's orders; the mesh and an order's page, the
// mesh's events. Two tabs side by side keep connections for requests.
let page = '';
const streams = { stock: null, orders: null, feed: null };

function syncStreams() {
  const c = session.customer;
  keep('stock', page === 'shop', () => follow('/inventory/changes', '', { stock: onStock, watching: loadCatalog }));
  keep('orders', page === 'shop' && !!c, () => follow('/orders/changes', c.token, {
    order: keepOrder,
    watching: () => readOrders(c.token),
    refused: () => { say('signin-status', 'Your token is no longer valid: sign in again.', true); signOut(); },
  }));
  keep('feed', page === 'mesh' || page === 'order', () => follow('/console/events', session.admin, {
    event: onMeshEvent,
    watching: () => say('feed-status', 'live'),
    refused: () => say('feed-status', 'Outside the demo shop the events are the admin\'s: type the admin token on the Admin page.', true),
  }));
}

// keep opens the stream name when wanted and closes it when not. Opening
// reads again what it follows (its watching), so nothing missed while it
// was closed stays missed.
function keep(name, wanted, open) {
  if (wanted && !streams[name]) streams[name] = open();
  if (!wanted && streams[name]) {
    streams[name].close();
    streams[name] = null;
  }
}

// restart opens a stream again, with a new token.
function restart(name) {
  keep(name, false);
  syncStreams();
}

// ---- Shop ----

const shop = { products: new Map(), stock: new Map(), cart: new Map(), orders: new Map() };

async function loadCatalog() {
  try {
    let cursor = '';
    do {
      const page = await api('GET', '/products?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      for (const p of page.items) shop.products.set(p.id, p);
      cursor = page.nextCursor || '';
    } while (cursor);
    await Promise.all([...shop.products.keys()].map(readStock));
    say('catalog-status', shop.products.size ? '' : 'The catalog is empty: start the shop with --demo, or add products as admin.');
  } catch (e) {
    say('catalog-status', 'Cannot read the catalog: ' + e.message, true);
  }
  renderCatalog();
}

async function readStock(id) {
  try { keepStock(await api('GET', '/inventory/' + id)); } catch (e) { /* no stock yet */ }
}

// keepStock keeps the newest count of a product: a change streamed while
// the page read the count must not be overwritten by the older read.
function keepStock(s) {
  const cur = shop.stock.get(s.productId);
  if (cur && cur.version >= s.version) return false;
  shop.stock.set(s.productId, s);
  return true;
}

async function onStock(s) {
  if (!keepStock(s)) return;
  if (!shop.products.has(s.productId)) {
    try { shop.products.set(s.productId, await api('GET', '/products/' + s.productId)); } catch (e) { return; }
    renderCatalog();
    return;
  }
  showStock(s.productId, true);
}

// showStock draws a product's count again if it changed; changed says to
// flash it, as a change that just happened.
function showStock(id, changed) {
  const out = $('stock-' + id);
  const s = shop.stock.get(id);
  if (out && s && out.dataset.version !== String(s.version)) out.replaceWith(stockLine(id, changed));
}

// onProduct reads a product again when the catalog changes, so the shop
// shows a new product, a new price or a removal without a reload.
async function onProduct(subject) {
  const [, , id, what] = subject.split('.');
  if (what === 'deleted') {
    shop.products.delete(id);
  } else {
    try { shop.products.set(id, await api('GET', '/products/' + id)); } catch (e) { return; }
  }
  renderCatalog();
}

function stockLine(id, changed) {
  const s = shop.stock.get(id) || { available: 0, onHand: 0, reserved: 0 };
  const cls = 'stock' + (s.available > 0 ? '' : ' out') + (changed ? ' flash' : '');
  return el('p', { id: 'stock-' + id, class: cls, 'data-available': s.available, 'data-version': s.version === undefined ? '' : s.version },
    s.available > 0 ? s.available + ' available' : 'Out of stock',
    s.reserved > 0 ? ' (' + s.reserved + ' held for orders)' : '');
}

// catalogShown names the products the catalog shows, and their versions.
let catalogShown = '';

// renderCatalog draws the catalog again only when its products changed; a
// new read of the same products only updates their counts, so a quantity
// being typed, or the focus, is not lost.
function renderCatalog() {
  const list = $('catalog');
  const products = [...shop.products.values()].sort((a, b) => a.name.localeCompare(b.name));
  const shown = products.map((p) => p.id + '@' + p.version).join(',');
  if (shown === catalogShown) {
    for (const p of products) showStock(p.id, false);
    return;
  }
  catalogShown = shown;
  list.replaceChildren();
  for (const p of products) {
    const qty = el('input', { id: 'qty-' + p.id, type: 'number', min: 1, max: 1000, value: 1, inputmode: 'numeric' });
    list.append(el('li', { class: 'product', 'data-sku': p.sku },
      el('h3', {}, p.name),
      el('p', { class: 'desc' }, p.description || p.sku),
      el('p', { class: 'price' }, money(p.price)),
      stockLine(p.id),
      el('div', { class: 'buy' },
        el('label', { for: 'qty-' + p.id }, 'Quantity of ' + p.name),
        qty,
        el('button', { type: 'button', onclick: () => addToCart(p.id, Number(qty.value)) }, 'Add to cart'))));
  }
  renderStockChoices();
}

function addToCart(id, qty) {
  if (!(qty >= 1)) return;
  shop.cart.set(id, (shop.cart.get(id) || 0) + qty);
  renderCart();
  say('place-status', 'Added ' + qty + ' × ' + shop.products.get(id).name + ' to the cart.');
}

function renderCart() {
  const list = $('cart');
  list.replaceChildren();
  let total = 0, currency = 'EUR';
  for (const [id, qty] of shop.cart) {
    const p = shop.products.get(id);
    total += p.price.amount * qty;
    currency = p.price.currency;
    list.append(el('li', {}, el('span', {}, qty + ' × ' + p.name),
      el('button', { type: 'button', class: 'secondary', 'aria-label': 'Remove ' + p.name + ' from the cart',
        onclick: () => { shop.cart.delete(id); renderCart(); } }, '×')));
  }
  $('cart-total').textContent = shop.cart.size ? 'Total ' + money({ amount: total, currency }) : 'The cart is empty.';
  $('place').disabled = !shop.cart.size;
}

async function signIn(ev) {
  ev.preventDefault();
  const name = $('customer-name').value.trim();
  try {
    let c;
    if (settings.signUp) {
      c = await api('POST', '/console/customers', { name });
    } else if (session.admin) {
      const id = name.toLowerCase().replace(/\s+/g, '-');
      c = await api('POST', '/orders/customer-tokens', { customerId: id }, session.admin);
    } else {
      say('signin-status', 'Sign-up is open only in the demo shop (shopmesh run --demo). Type the admin token on the Admin page, and the console asks it for a customer token.', true);
      return;
    }
    session.customer = { customerId: c.customerId, token: c.token };
    say('signin-status', '');
    startCustomer();
  } catch (e) {
    say('signin-status', 'Cannot sign in: ' + e.message, true);
  }
}

function signOut() {
  session.customer = null;
  restart('orders');
  shop.orders.clear();
  renderOrders();
  renderWho();
}

function renderWho() {
  const c = session.customer;
  $('signin').hidden = !!c;
  $('who').replaceChildren(...(c ? ['Shopping as ', el('b', {}, c.customerId),
    el('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out')] : []));
}

// startCustomer follows the customer's orders (syncStreams), and reads
// them then.
function startCustomer() {
  renderWho();
  restart('orders');
}

async function readOrders(token) {
  try {
    const page = await api('GET', '/orders?limit=20', undefined, token);
    for (const o of page.items.reverse()) keepOrder(o);
  } catch (e) { /* the stream says more */ }
}

function keepOrder(o) {
  const cur = shop.orders.get(o.id);
  if (cur && cur.version > o.version) return;
  shop.orders.set(o.id, o);
  // Said in the status line too, which screen readers announce.
  if (cur && cur.status !== o.status) sayOrder(o);
  renderOrders();
  if (currentOrder === o.id) refreshOrder();
}

function sayOrder(o) {
  say('place-status', 'Order ' + short(o.id) + ' is ' + o.status.replace('_', ' ') + (o.reason ? ': ' + o.reason : '') + '.');
}

async function placeOrder() {
  const c = session.customer;
  if (!c) {
    say('place-status', 'Type your name and start shopping first.', true);
    $('customer-name').focus();
    return;
  }
  const items = [...shop.cart].map(([productId, quantity]) => ({ productId, quantity }));
  $('place').disabled = true;
  try {
    const o = await api('POST', '/orders', { items, paymentToken: $('payment').value }, c.token);
    shop.cart.clear();
    renderCart();
    keepOrder(o);
    // Its changes may have come before this answer: say where it is now.
    sayOrder(shop.orders.get(o.id));
  } catch (e) {
    say('place-status', 'The order was refused: ' + e.message, true);
    $('place').disabled = false;
  }
}

const steps = ['pending', 'awaiting_payment'];
const endings = ['confirmed', 'rejected', 'cancelled', 'expired'];

function renderOrders() {
  const list = $('orders');
  list.replaceChildren();
  const orders = [...shop.orders.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  if (!orders.length) list.append(el('li', { class: 'hint' }, 'No orders yet.'));
  for (const o of orders) list.append(orderItem(o));
}

function orderItem(o) {
  const ended = endings.includes(o.status);
  const at = steps.indexOf(o.status);
  const path = el('ol', { class: 'steps', 'aria-label': 'Status' });
  steps.forEach((s, i) => path.append(el('li', { class: i < at || ended ? 'done' : i === at ? 'now' : '' }, s.replace('_', ' '))));
  path.append(el('li', { class: ended ? 'now ' + o.status : '' }, ended ? o.status : 'confirmed?'));
  const items = o.items.map((i) => i.quantity + ' × ' + i.name).join(', ');
  const cancellable = !['rejected', 'cancelled', 'expired'].includes(o.status);
  return el('li', { class: 'order', id: 'order-' + o.id, 'data-status': o.status },
    el('div', {}, el('b', {}, 'Order ', el('a', { href: '#/order/' + o.id }, short(o.id))), ' · ', items, ' · ', money(o.total)),
    path,
    o.reason ? el('p', { class: 'reason' }, o.reason) : null,
    cancellable ? el('div', { class: 'actions' }, el('button', { type: 'button', class: 'secondary',
      'aria-label': (o.status === 'confirmed' ? 'Cancel and refund order ' : 'Cancel order ') + short(o.id),
      onclick: () => cancelOrder(o.id) }, o.status === 'confirmed' ? 'Cancel and refund' : 'Cancel')) : null);
}

async function cancelOrder(id) {
  try {
    keepOrder(await api('POST', '/orders/' + id + '/cancel', undefined, session.customer.token));
  } catch (e) {
    say('place-status', 'Cannot cancel: ' + e.message, true);
  }
}

// ---- Mesh ----

const layout = {
  products: { x: 110, y: 200 }, orders: { x: 380, y: 70 },
  inventory: { x: 380, y: 330 }, payments: { x: 650, y: 200 },
};
// A service beyond the four placed above takes a corner, in the order the
// shop lists its services, so that a new one is drawn without an edit here.
const corners = [{ x: 110, y: 70 }, { x: 650, y: 70 }, { x: 110, y: 330 }, { x: 650, y: 330 }];

function placeServices() {
  for (const name of settings.services) {
    if (!layout[name] && corners.length) layout[name] = corners.shift();
  }
}
const mesh = { edges: new Map(), dots: 0, rows: [], seen: new Set(), opened: new Date().toISOString(), consumersTimer: null };

function drawGraph() {
  placeServices();
  const g = $('graph');
  const pairs = new Set(settings.edges.map((e) => e.from + '>' + e.to));
  for (const e of settings.edges) {
    const key = e.from + '>' + e.to;
    if (mesh.edges.has(key)) { mesh.edges.get(key).consumers.push(e.consumer); continue; }
    const a = layout[e.from], b = layout[e.to];
    if (!a || !b) continue;
    // Two services that send each other events get two arrows, side by side.
    const both = pairs.has(e.to + '>' + e.from);
    const [d, mid] = edgePath(a, b, both ? 14 : 0);
    const path = svg('path', { d, class: 'edge' + (e.consumer ? '' : ' projection'), 'marker-end': 'url(#arrow)' });
    const label = svg('text', { x: mid.x, y: mid.y + 5, class: 'count', 'data-edge': key });
    label.textContent = '0';
    const tip = svg('title', {});
    tip.textContent = e.from + ' → ' + e.to + (e.consumer ? ' (' + e.consumer + ')' : ' (projection)');
    path.append(tip);
    g.append(path, label);
    mesh.edges.set(key, { path, label, d, count: 0, consumers: [e.consumer] });
  }
  for (const [name, p] of Object.entries(layout)) {
    const node = svg('g', { class: 'node node-' + name, 'data-service': name });
    node.append(svg('rect', { x: p.x - 80, y: p.y - 32, width: 160, height: 64, rx: 12 }));
    const t = svg('text', { x: p.x, y: p.y + 2 });
    t.textContent = name;
    const s = svg('text', { x: p.x, y: p.y + 22, class: 'sub' });
    s.textContent = name.toUpperCase() + ' stream';
    node.append(t, s);
    g.append(node);
  }
}

// edgePath runs from the edge of box a to the edge of box b, shifted
// sideways by offset; it returns the path and where its label goes.
function edgePath(a, b, offset) {
  const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy);
  const nx = -dy / len * offset, ny = dx / len * offset;
  const cut = (p, q) => {
    // where the line from p towards q leaves p's box (160 × 64)
    const ux = q.x - p.x, uy = q.y - p.y;
    const t = Math.min(Math.abs(88 / (ux || 1e-9)), Math.abs(40 / (uy || 1e-9)));
    return { x: p.x + ux * t, y: p.y + uy * t };
  };
  const s = cut(a, b), e = cut(b, a);
  const from = { x: s.x + nx, y: s.y + ny }, to = { x: e.x + nx, y: e.y + ny };
  const mid = { x: (from.x + to.x) / 2 + nx * 1.6, y: (from.y + to.y) / 2 + ny * 1.6 };
  return ['M' + from.x.toFixed(1) + ' ' + from.y.toFixed(1) + ' L' + to.x.toFixed(1) + ' ' + to.y.toFixed(1), mid];
}

// onMeshEvent shows an event once: after a reconnection the feed sends
// each stream's latest events again. Only what happened since the page
// opened counts on the edges.
function onMeshEvent(e) {
  const key = e.stream + ':' + e.sequence;
  if (mesh.seen.has(key)) return;
  mesh.seen.add(key);
  // Only the events still in the feed can come again (a stream's latest,
  // after a reconnection): the rest need not be remembered.
  if (mesh.seen.size > 4 * maxRows) mesh.seen = new Set(mesh.rows.map((r) => r.key).concat(key));
  if (e.time >= mesh.opened) {
    for (const to of e.to) pulse(e.service + '>' + to);
    if (e.service === 'products') onProduct(e.subject);
  }
  addFeedRow(e);
  if (currentOrder && e.orderId === currentOrder) refreshOrder();
}

function pulse(key) {
  const edge = mesh.edges.get(key);
  if (!edge) return;
  edge.count++;
  edge.label.textContent = String(edge.count);
  edge.path.classList.remove('pulse');
  void edge.path.getBoundingClientRect();
  edge.path.classList.add('pulse');
  if (mesh.dots >= 20 || document.hidden) return;
  const dot = svg('circle', { r: 6, class: 'dot' });
  const move = svg('animateMotion', { dur: '0.7s', fill: 'freeze', path: edge.d });
  dot.append(move);
  $('graph').append(dot);
  mesh.dots++;
  if (move.beginElement) move.beginElement();
  setTimeout(() => { dot.remove(); mesh.dots--; }, 750);
}

const maxRows = 400;

// addFeedRow puts an event in the feed, newest first: a page opened late
// gets each stream's latest events, stream by stream, so they are put in
// their place by time.
function addFeedRow(e) {
  const body = $('feed').tBodies[0];
  const order = e.orderId ? el('a', { href: '#/order/' + e.orderId }, short(e.orderId)) : '';
  const row = el('tr', { class: 'fresh', 'data-service': e.service, 'data-order': e.orderId || '', 'data-subject': e.subject },
    el('td', {}, el('time', { datetime: e.time }, clock(e.time))),
    el('td', { class: 'svc svc-' + e.service }, e.service),
    el('td', { class: 'subject' }, e.subject),
    el('td', { class: 'type' }, e.type.replace(/^shopmesh\./, '')),
    el('td', {}, order));
  row.hidden = !feedMatches(row);
  const t = e.time;
  let i = 0;
  while (i < mesh.rows.length && mesh.rows[i].t > t) i++;
  mesh.rows.splice(i, 0, { t, row, key: e.stream + ':' + e.sequence });
  body.insertBefore(row, body.rows[i] || null);
  while (mesh.rows.length > maxRows) {
    const old = mesh.rows.pop();
    old.row.remove();
  }
}

function feedMatches(row) {
  const svc = $('filter-service').value, order = $('filter-order').value.trim();
  return (!svc || row.dataset.service === svc) && (!order || row.dataset.order.startsWith(order));
}

function filterFeed() {
  for (const { row } of mesh.rows) row.hidden = !feedMatches(row);
}

async function pollConsumers() {
  clearTimeout(mesh.consumersTimer);
  if ($('page-mesh').hidden) return;
  try {
    const c = await api('GET', '/console/consumers');
    const body = $('consumers').tBodies[0];
    body.replaceChildren(...c.consumers.map((x) => el('tr', {},
      el('td', {}, x.name, el('br'), el('small', { class: 'hint' }, x.stream)),
      el('td', { class: 'num' }, String(x.pending)), el('td', { class: 'num' }, String(x.ackPending)),
      el('td', { class: 'num' }, String(x.redelivered)))));
    if ($('dead-count').textContent !== String(c.deadLetters)) {
      $('dead-count').textContent = String(c.deadLetters);
      loadDeadLetters();
    }
  } catch (e) { /* next time */ }
  mesh.consumersTimer = setTimeout(pollConsumers, 2000);
}

async function loadDeadLetters() {
  const list = $('dead-letters');
  $('dead-hint').hidden = !!session.admin;
  if (!session.admin) { list.replaceChildren(); return; }
  try {
    const dead = await api('GET', '/console/dead-letters', undefined, session.admin);
    list.replaceChildren(...dead.items.map((d) => el('li', {},
      el('span', {}, el('b', {}, '#' + d.sequence), ' ', d.consumer, ': ', el('code', {}, d.subject), el('br'), d.error),
      el('button', { type: 'button', class: 'secondary', 'aria-label': 'Redrive dead letter ' + d.sequence,
        onclick: () => redrive(d.sequence) }, 'Redrive'))));
  } catch (e) {
    say('dead-status', 'Cannot read the dead letters: ' + e.message, true);
  }
}

async function redrive(seq) {
  try {
    await api('POST', '/console/dead-letters/' + seq + '/redrive', undefined, session.admin);
    say('dead-status', 'Dead letter ' + seq + ' was handled and removed.');
  } catch (e) {
    say('dead-status', 'Dead letter ' + seq + ': ' + e.message, true);
  }
  loadDeadLetters();
}

// ---- Order ----

let currentOrder = '';
let orderTimer = null;

function showOrder(id) {
  currentOrder = id;
  $('order-id').textContent = id;
  refreshOrder();
}

// refreshOrder reads the order and its timeline again, once for a burst
// of events.
function refreshOrder() {
  clearTimeout(orderTimer);
  orderTimer = setTimeout(readOrderPage, 150);
}

async function readOrderPage() {
  const id = currentOrder;
  const token = (session.customer && shop.orders.has(id) ? session.customer.token : '') || session.admin ||
    (session.customer && session.customer.token);
  if (!token) {
    say('order-summary', 'Only its customer, or the admin, may see an order: sign in on the Shop page, or type the admin token on the Admin page.', true);
    return;
  }
  try {
    const [o, t] = await Promise.all([api('GET', '/orders/' + id, undefined, token), api('GET', '/orders/' + id + '/timeline', undefined, token)]);
    if (id !== currentOrder) return;
    say('order-summary', o.status + (o.reason ? ': ' + o.reason : '') + ' · ' + o.items.map((i) => i.quantity + ' × ' + i.name).join(', ') + ' · ' + money(o.total));
    renderTimeline(t.events);
  } catch (e) {
    say('order-summary', 'Cannot read the order: ' + e.message, true);
  }
}

function renderTimeline(events) {
  const index = new Map(events.map((e, i) => [e.id, i + 1]));
  const trace = (events.find((e) => e.traceId) || {}).traceId || '';
  $('order-trace').textContent = trace || 'none';
  const link = $('order-trace-link');
  link.hidden = !(trace && settings.traceUrl);
  if (!link.hidden) link.href = settings.traceUrl.replace('{traceId}', trace);
  $('timeline').tBodies[0].replaceChildren(...events.map((e, i) => {
    const cause = index.get(e.causationId);
    return el('tr', { id: 'event-' + (i + 1) },
      el('td', { class: 'num' }, String(i + 1)),
      el('td', {}, el('time', { datetime: e.time }, clock(e.time))),
      el('td', { class: 'svc svc-' + e.service }, e.service),
      el('td', { class: 'subject' }, e.subject),
      el('td', {}, cause ? el('a', { href: '#event-' + cause, onclick: (ev) => { ev.preventDefault(); highlight(cause); } },
        '#' + cause + ' ' + events[cause - 1].subject.split('.').pop()) : 'the request'));
  }));
}

function highlight(n) {
  for (const r of $('timeline').tBodies[0].rows) r.classList.toggle('highlight', r.id === 'event-' + n);
  const row = $('event-' + n);
  if (row) row.scrollIntoView({ block: 'nearest' });
}

// ---- Admin ----

function renderAdmin() {
  $('admin-token-status').textContent = session.admin ? 'The admin token is set for this tab.' : 'No admin token in this tab.';
  $('dead-hint').hidden = !!session.admin;
}

function renderStockChoices() {
  const sel = $('stock-product');
  const chosen = sel.value;
  sel.replaceChildren(...[...shop.products.values()].sort((a, b) => a.name.localeCompare(b.name))
    .map((p) => el('option', { value: p.id, selected: p.id === chosen }, p.name + ' (' + p.sku + ')')));
}

function adminForm(formId, statusId, action) {
  $(formId).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!session.admin) { say(statusId, 'Type the admin token first.', true); $('admin-token').focus(); return; }
    try {
      say(statusId, await action());
    } catch (e) {
      say(statusId, e.message, true);
    }
  });
}

function setupAdmin() {
  $('admin-token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    session.admin = $('admin-token').value.trim();
    $('admin-token').value = '';
    renderAdmin();
    loadDeadLetters();
    restart('feed');
  });
  $('admin-forget').addEventListener('click', () => { session.admin = ''; renderAdmin(); loadDeadLetters(); restart('feed'); });
  adminForm('product-form', 'product-status', async () => {
    const p = await api('POST', '/products', {
      sku: $('product-sku').value.trim(), name: $('product-name').value.trim(),
      description: $('product-description').value.trim() || undefined,
      price: { amount: Math.round(Number($('product-price').value) * 100), currency: 'EUR' },
    }, session.admin);
    shop.products.set(p.id, p);
    renderCatalog();
    $('stock-product').value = p.id;
    return 'Added ' + p.name + '. Give it stock below.';
  });
  adminForm('stock-form', 'stock-status', async () => {
    const id = $('stock-product').value;
    const s = await api('PUT', '/inventory/' + id, { onHand: Number($('stock-onhand').value) }, session.admin);
    return shop.products.get(id).name + ': ' + s.onHand + ' on hand, ' + s.available + ' available.';
  });
  adminForm('refund-form', 'refund-status', async () => {
    const p = await api('POST', '/payments/pay_' + encodeURIComponent($('refund-order').value.trim()) + '/refund', undefined, session.admin);
    return 'Payment ' + p.id + ' is ' + p.status + '.';
  });
  renderAdmin();
}

// ---- Start ----

async function start() {
  try {
    settings = await api('GET', '/console/settings');
  } catch (e) {
    say('catalog-status', 'Cannot read the console settings: ' + e.message, true);
  }
  $('payment').replaceChildren(...settings.payments.map((p) => el('option', { value: p.token }, p.label)));
  $('filter-service').append(...settings.services.map((s) => el('option', { value: s }, s)));
  drawGraph();
  setupAdmin();
  $('signin').addEventListener('submit', signIn);
  $('place').addEventListener('click', placeOrder);
  $('filter-service').addEventListener('change', filterFeed);
  $('filter-order').addEventListener('input', filterFeed);
  $('feed-filter').addEventListener('submit', (ev) => ev.preventDefault());
  window.addEventListener('hashchange', route);
  // The catalog is read once here, for every page; the shop reads it again
  // each time it starts following stock (changes first, then the reads:
  // nothing that changes in between is missed, and keepStock never lets an
  // older read overwrite a newer count).
  loadCatalog();
  renderCart();
  renderOrders();
  renderWho();
  route();
}

start();
