// Tubegate's page: the small helpers every module shares, on window.TG:
// elements, errors beside the control, busy buttons, copy buttons that say
// "Copied", times. No framework: the page is a few hundred lines per part.
'use strict';

window.TG = window.TG || {};
(() => {
  const TG = window.TG;
  TG.$ = (id) => document.getElementById(id);

  // el(tag, {attrs}, ...children): a new element; class, text, on* handled.
  TG.el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k in e && typeof v !== 'string') e[k] = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  };

  TG.show = (id, on) => { TG.$(id).hidden = !on; };
  TG.setError = (id, msg) => { const e = TG.$(id); e.textContent = msg || ''; e.hidden = !msg; };

  // busy runs fn with the button disabled and marked busy (aria-busy, a
  // spinner by CSS), and returns fn's result.
  TG.busy = async (button, fn) => {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try { return await fn(); } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  };

  // copy puts text on the clipboard; the button says "Copied" for a while.
  TG.copy = async (button, text) => {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch (e) {
      // No clipboard (plain http on another host): select the text instead.
      button.textContent = 'Select and copy';
      const code = button.parentElement && button.parentElement.querySelector('code');
      if (code) window.getSelection().selectAllChildren(code);
    }
    clearTimeout(button._copyTimer);
    button._copyTimer = setTimeout(() => { button.textContent = label; }, 2000);
  };

  // copyLine is a <code> with a Copy button beside it.
  TG.copyLine = (text, label) => {
    const code = TG.el('code', { text });
    const btn = TG.el('button', { type: 'button', class: 'copy', text: 'Copy', 'aria-label': label || 'Copy' });
    btn.addEventListener('click', () => TG.copy(btn, text));
    return TG.el('div', { class: 'copyline' }, code, btn);
  };

  // ago says how long ago t (a date or ISO string) was, in words.
  TG.ago = (t) => {
    const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  };

  TG.fmtBytes = (n) => {
    const units = ['B', 'KiB', 'MiB', 'GiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
  };

  // store reads and writes JSON in localStorage, never throwing.
  TG.store = {
    get(key, def) { try { const v = JSON.parse(localStorage.getItem(key)); return v === null ? def : v; } catch (e) { return def; } },
    set(key, v) { try { localStorage.setItem(key, JSON.stringify(v)); } catch (e) { /* full or off */ } },
  };

  TG.api = (method, path, body) => window.tubegateAPI(method, path, body, TG.csrf);
})();
