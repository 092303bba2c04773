// Tubegate's plain-language errors: maps the SSH client's raw messages to
// a sentence that says what happened and what to do, and where to show it.
// The raw message stays one click away (the page's Details).
'use strict';

(() => {
  // Each rule: a pattern on the raw message, the sentence (given the
  // target and the login user), and the field to show it beside, if any.
  const rules = [
    // The tube to the gateway, when it could not be resumed (first: their
    // raw messages quote the gateway's refusal).
    [/not resumed within the gateway's (\S+) window/i,
      () => 'The connection to the gateway was lost and did not come back within its resume window, so the session ended. Check your network, then connect again.'],
    [/refused to resume the tube/i,
      () => 'The connection to the gateway came back, but the gateway no longer holds this session (it restarted, or the session ended): connect again.'],
    [/the gateway ended the tube/i,
      () => 'The gateway ended the connection (it is shutting down or restarting): connect again.'],
    [/unable to authenticate|refused the login/i,
      (t, u) => `Wrong password or key: ${t} did not accept the login of ${u}. Check the password (or key) and try again.`,
      'console-password-error'],
    [/host key of .* has changed/i,
      (t) => `The host key of ${t} has changed, so the connection was refused. It can be an attack; see the fingerprints below.`],
    [/host key of .* not accepted/i,
      (t) => `You did not trust the host key of ${t}: not connected.`],
    [/no such name online/i,
      (t) => `Host offline: ${t} is not published on the gateway right now. Start the ssh -R that publishes it, then connect again.`],
    [/not permitted by your policy|administratively prohibited|refused: /i,
      (t) => `Refused by your policy: you may not connect to ${t}. An admin can allow it (gateway user set NAME --permit-open HOST:PORT).`],
    [/connection refused|no route to host|host is unreachable|did not answer|not published|no such host/i,
      (t) => `Host offline: nothing answers at ${t}.`],
    [/timed? ?out|deadline exceeded/i,
      (t) => `Timed out reaching ${t}. The host or the network may be down; try again.`],
    [/connection to the gateway was lost|websocket|tube/i,
      () => 'The connection to the gateway was lost. Check your network, then connect again.'],
  ];

  // tubegateExplain(raw, target, user) -> {text, field}: the plain
  // sentence for raw, and the id of the field it belongs to ('' for none).
  // A message with no rule (already plain, like "enter its passphrase") is
  // shown as it is.
  window.tubegateExplain = (raw, target, user) => {
    const msg = String(raw || '');
    for (const [re, say, field] of rules) {
      if (re.test(msg)) return { text: say(target || 'the host', user || 'this user'), field: field || '' };
    }
    return { text: msg, field: '' };
  };
})();
