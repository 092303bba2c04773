// Tubegate's page: terminal settings, remembered in this browser: font
// size, theme (following the OS unless chosen), scrollback, renderer and
// copy-on-select. Consoles read TG.settings.get() and hear changes through
// a tubegate:settings event.
'use strict';

(() => {
  const { $, store } = window.TG;
  const KEY = 'tubegate.settings';
  const defaults = { fontSize: 14, theme: 'auto', scrollback: 5000, renderer: 'auto', copyOnSelect: false };
  let current = { ...defaults, ...store.get(KEY, {}) };

  // Terminal colours per theme; the page's own follow the same choice.
  const themes = {
    dark: { background: '#111418', foreground: '#e6e6e6', cursor: '#e6e6e6', selectionBackground: '#3a4a66' },
    light: { background: '#fbfbfb', foreground: '#1d1f21', cursor: '#1d1f21', selectionBackground: '#b8d0f0',
      black: '#1d1f21', brightBlack: '#555555', white: '#8a8a8a', brightWhite: '#4a4a4a', yellow: '#8a6d00', brightYellow: '#7a5d00' },
  };

  function dark() {
    if (current.theme === 'auto') return matchMedia('(prefers-color-scheme: dark)').matches;
    return current.theme === 'dark';
  }

  function apply() {
    const root = document.documentElement;
    if (current.theme === 'auto') delete root.dataset.theme; else root.dataset.theme = current.theme;
    document.dispatchEvent(new CustomEvent('tubegate:settings', { detail: current }));
  }

  function clamp(v, lo, hi, def) {
    const n = Number(v);
    return Number.isFinite(n) ? Math.min(hi, Math.max(lo, Math.round(n))) : def;
  }

  const settings = {
    get: () => ({ ...current }),
    termTheme: () => themes[dark() ? 'dark' : 'light'],
    set(patch) {
      current = { ...current, ...patch };
      current.fontSize = clamp(current.fontSize, 8, 32, defaults.fontSize);
      current.scrollback = clamp(current.scrollback, 100, 100000, defaults.scrollback);
      store.set(KEY, current);
      fill();
      apply();
    },
  };
  window.TG.settings = settings;

  function fill() {
    $('settings-font-size').value = current.fontSize;
    $('settings-theme').value = current.theme;
    $('settings-scrollback').value = current.scrollback;
    $('settings-renderer').value = current.renderer;
    $('settings-copy-on-select').checked = current.copyOnSelect;
  }

  $('settings-form').addEventListener('change', () => settings.set({
    fontSize: $('settings-font-size').value,
    theme: $('settings-theme').value,
    scrollback: $('settings-scrollback').value,
    renderer: $('settings-renderer').value,
    copyOnSelect: $('settings-copy-on-select').checked,
  }));
  $('settings-form').addEventListener('submit', (ev) => ev.preventDefault());
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', apply);
  fill();
  apply();
})();
