// Tubegate's page: host keys, trusted on first use and remembered in this
// browser; keyboard-interactive questions. The console asks these through
// the one panel each has, for whichever tab is connecting.
'use strict';

(() => {
  const { $, show } = window.TG;
  const KNOWN_HOSTS = 'tubegate.knownHosts';

  function knownHosts() {
    try { return JSON.parse(localStorage.getItem(KNOWN_HOSTS) || '{}'); } catch (e) { return {}; }
  }

  window.TG.checkHostKey = (info) => {
    const known = knownHosts();
    const id = info.host + ' ' + info.type;
    if (known[id] === info.fingerprint) return Promise.resolve(true);
    const other = Object.keys(known).find((k) => k.startsWith(info.host + ' '));
    if (known[id] || other) {
      const old = known[id] ? `${info.type} ${known[id]}` : `${other.split(' ')[1]} ${known[other]}`;
      $('hostkey-changed-host').textContent = info.host;
      $('hostkey-old').textContent = old;
      $('hostkey-new').textContent = `${info.type} ${info.fingerprint}`;
      $('hostkey-forget').onclick = () => {
        const k = knownHosts();
        for (const key of Object.keys(k)) if (key.startsWith(info.host + ' ')) delete k[key];
        localStorage.setItem(KNOWN_HOSTS, JSON.stringify(k));
        show('hostkey-changed-panel', false);
      };
      show('hostkey-changed-panel', true);
      return Promise.reject(new Error(`the host key of ${info.host} has changed (remembered ${old}, offered ${info.type} ${info.fingerprint}): refused`));
    }
    $('hostkey-host').textContent = info.host;
    $('hostkey-type').textContent = info.type;
    $('hostkey-fingerprint').textContent = info.fingerprint;
    show('hostkey-new-panel', true);
    $('hostkey-accept').focus();
    return new Promise((resolve) => {
      const done = (ok) => {
        $('hostkey-new-panel').onkeydown = null;
        show('hostkey-new-panel', false);
        if (ok) {
          const k = knownHosts();
          k[id] = info.fingerprint;
          localStorage.setItem(KNOWN_HOSTS, JSON.stringify(k));
        }
        resolve(ok);
      };
      $('hostkey-accept').onclick = () => done(true);
      $('hostkey-reject').onclick = () => done(false);
      $('hostkey-new-panel').onkeydown = (ev) => {
        if (ev.key === 'Escape') { ev.preventDefault(); done(false); }
      };
    });
  };

  window.TG.prompt = (info) => {
    $('kbd-instruction').textContent = [info.name, info.instruction].filter(Boolean).join(': ');
    const box = $('kbd-questions');
    box.replaceChildren();
    const inputs = info.questions.map((q, i) => {
      const label = document.createElement('label');
      label.textContent = q.prompt;
      const input = document.createElement('input');
      input.type = q.echo ? 'text' : 'password';
      input.id = 'kbd-answer-' + i;
      input.autocomplete = 'off';
      label.append(input);
      box.append(label);
      return input;
    });
    show('kbd-panel', true);
    if (inputs[0]) inputs[0].focus();
    return new Promise((resolve, reject) => {
      $('kbd-panel').onsubmit = (ev) => { ev.preventDefault(); show('kbd-panel', false); resolve(inputs.map((i) => i.value)); };
      $('kbd-cancel').onclick = () => { show('kbd-panel', false); reject(new Error('login cancelled')); };
    });
  };
})();
