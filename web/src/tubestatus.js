// The page's tube to the gateway, as the person sees it: a page-wide
// banner while the tube is reconnecting ("reconnecting… 1:52", counting
// down to the end of the gateway's resume window), then "resumed" for a
// moment, or why it could not be resumed. The Wasm client reports each
// change to globalThis.tubegateTubeState; what a console shows about
// itself stays in its own status line, and its tab reads 'reconnecting'
// while the tube resumes (every console runs over the page's one tube).
'use strict';

(() => {
  const RESUMED_MS = 4000; // how long "resumed" stays up
  const HISTORY = 20; // states kept in #tube-status[data-history]
  const $ = (id) => document.getElementById(id);
  let tick = 0;
  let hide = 0;

  // left is m:ss until deadline (ms since the epoch), never negative.
  function left(deadline) {
    const s = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  }

  function show(state, text, detail) {
    const box = $('tube-status');
    if (!box) return;
    box.dataset.state = state;
    document.body.dataset.tube = state;
    $('tube-status-text').textContent = text;
    box.title = detail || '';
    box.classList.toggle('error', state === 'failed');
    box.hidden = !text;
  }

  function record(state) {
    const box = $('tube-status');
    if (!box) return;
    const seen = (box.dataset.history || '').split(' ').filter(Boolean);
    if (seen[seen.length - 1] !== state) seen.push(state);
    box.dataset.history = seen.slice(-HISTORY).join(' ');
  }

  // markConsoles moves every console tab in state from to state to
  // (TG.consoles, consoles.js), keeping each tab's status line.
  function markConsoles(from, to) {
    const consoles = window.TG && window.TG.consoles;
    if (!consoles) return;
    for (const tab of consoles.list()) {
      if (tab.state === from) consoles.setState(tab, to);
    }
  }

  function stop() {
    clearInterval(tick);
    clearTimeout(hide);
    tick = 0;
    hide = 0;
  }

  // tubegateTubeState({state, deadline, attempt, error}): see wasm/tubestate_js.go.
  window.tubegateTubeState = (s) => {
    stop();
    record(s.state);
    switch (s.state) {
      case 'reconnecting': {
        const update = () => show('reconnecting', `reconnecting… ${left(s.deadline)}`,
          `attempt ${s.attempt}` + (s.error ? `: ${s.error}` : ''));
        update();
        tick = setInterval(update, 1000);
        markConsoles('open', 'reconnecting');
        break;
      }
      case 'resumed':
        show('resumed', 'resumed');
        hide = setTimeout(() => show('connected', ''), RESUMED_MS);
        markConsoles('reconnecting', 'open');
        break;
      case 'failed': {
        const why = window.tubegateExplain ? window.tubegateExplain(s.error, '', '').text : s.error;
        show('failed', 'not resumed: ' + why, s.error);
        // Each console's own end (its onClose) closes its tab and says why.
        break;
      }
      default: // connected, closed
        show(s.state, '');
        if (s.state === 'connected') markConsoles('reconnecting', 'open');
    }
  };
})();
