// Tubegate's file panel: SFTP on a console's host connection. Browse,
// upload (a button, or files dropped on the terminal), download, make a
// directory, rename, delete; transfers show progress and speed and can be
// cancelled. The SFTP client is a second Wasm module (sftp.wasm), loaded
// the first time a panel opens; it speaks over the console's "sftp"
// subsystem channel, end to end with the host's sshd.
//
// The console code calls window.tubegateFiles.attach({console, target,
// button, dropTarget, container}) once its console is open, and detach()
// when it ends. Elements are found by class inside the panel (there may
// be one panel per console).
'use strict';

(() => {
  // Downloads up to BLOB_MAX go to an in-page Blob and then a normal
  // download. Larger ones stream to the file chosen in the File System
  // Access save dialog where the browser has it (Chromium); elsewhere they
  // fall back to the Blob, built from 4 MiB parts (the browser's blob store
  // holds them; Chromium pages it to disk), up to BLOB_LIMIT.
  const BLOB_MAX = 64 << 20;
  const BLOB_LIMIT = 2 * 1024 * 1024 * 1024;
  const BLOB_PART = 4 << 20;

  let sftpModule = null;

  // loadSFTP instantiates sftp.wasm once and returns its globalThis.tubegateSFTP.
  function loadSFTP() {
    if (!sftpModule) {
      sftpModule = (async () => {
        const url = document.querySelector('meta[name="tubegate-sftp-wasm"]').content;
        const go = new Go();
        const { instance } = await WebAssembly.instantiateStreaming(fetch(url), go.importObject);
        go.run(instance).then(() => { sftpModule = null; });
        return globalThis.tubegateSFTP;
      })().catch((e) => { sftpModule = null; throw new Error('loading the SFTP client: ' + e.message); });
    }
    return sftpModule;
  }

  function fmtBytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function button(cls, text, onclick, label) {
    const b = el('button', cls, text);
    b.type = 'button';
    if (label) b.setAttribute('aria-label', label);
    b.onclick = onclick;
    return b;
  }

  function join(dir, name) { return dir === '/' ? '/' + name : dir.replace(/\/+$/, '') + '/' + name; }
  function parent(dir) { const i = dir.replace(/\/+$/, '').lastIndexOf('/'); return i <= 0 ? '/' : dir.slice(0, i); }

  // saveTarget returns where a download of size bytes goes: {write(chunk)
  // -> Promise, close(), abort(), kind}. Call it first in a click handler:
  // the save dialog needs the click's user activation.
  async function saveTarget(name, size) {
    if (size > BLOB_MAX && typeof window.showSaveFilePicker === 'function') {
      let handle = null;
      try {
        handle = await window.showSaveFilePicker({ suggestedName: name });
      } catch (e) {
        if (e.name === 'AbortError') return null; // the person closed the dialog
      }
      if (handle) {
        const w = await handle.createWritable();
        return { kind: 'file', write: (c) => w.write(c), close: () => w.close(), abort: () => w.abort() };
      }
    }
    if (size > BLOB_LIMIT) {
      throw new Error(`${name} is ${fmtBytes(size)}: this browser can save at most ${fmtBytes(BLOB_LIMIT)} from the page ` +
        '(no File System Access API). Use sftp or scp with ssh -J through the gateway.');
    }
    let parts = [];
    let pending = [];
    let pendingSize = 0;
    const flush = () => {
      if (pending.length) parts.push(new Blob(pending));
      pending = [];
      pendingSize = 0;
    };
    return {
      kind: 'blob',
      write: (c) => {
        pending.push(c);
        pendingSize += c.length;
        if (pendingSize >= BLOB_PART) flush();
      },
      close: () => {
        flush();
        const blob = new Blob(parts, { type: 'application/octet-stream' });
        parts = [];
        const url = URL.createObjectURL(blob);
        const a = el('a');
        a.href = url;
        a.download = name;
        a.hidden = true;
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
        document.dispatchEvent(new CustomEvent('tubegate:download', { detail: { name, size: blob.size } }));
      },
      abort: () => { parts = []; pending = []; },
    };
  }

  // Panel is one console's file panel.
  class Panel {
    constructor(opts) {
      this.con = opts.console;
      this.target = opts.target || 'the host';
      this.button = opts.button;
      this.dropTarget = opts.dropTarget;
      this.container = opts.container;
      this.client = null;
      this.connecting = null;
      this.dir = '';
      this.queue = Promise.resolve();
      this.build();
      this.wire();
    }

    build() {
      const root = el('section', 'files-panel');
      root.hidden = true;
      root.setAttribute('aria-label', 'Files on ' + this.target);
      const head = el('div', 'files-head');
      head.append(el('h3', 'files-title', 'Files on ' + this.target));
      const pathForm = el('form', 'files-path-form');
      const pathLabel = el('label', 'files-path-label', 'Directory ');
      this.pathInput = el('input', 'files-path');
      this.pathInput.spellcheck = false;
      this.pathInput.autocomplete = 'off';
      pathLabel.append(this.pathInput);
      pathForm.append(pathLabel, button('files-up', 'Up', () => this.cd(parent(this.dir)), 'Parent directory'),
        button('files-refresh', 'Refresh', () => this.cd(this.dir)));
      pathForm.onsubmit = (ev) => { ev.preventDefault(); this.cd(this.pathInput.value.trim() || '/'); };
      this.uploadInput = el('input', 'files-upload-input');
      this.uploadInput.type = 'file';
      this.uploadInput.multiple = true;
      this.uploadInput.hidden = true;
      this.uploadInput.setAttribute('aria-label', 'Files to upload');
      this.uploadInput.onchange = () => { this.uploadAll([...this.uploadInput.files]); this.uploadInput.value = ''; };
      const actions = el('div', 'files-actions');
      actions.append(button('files-upload', 'Upload…', () => this.uploadInput.click()),
        button('files-mkdir', 'New directory', () => this.ask('New directory name', '', (name) => this.mkdir(name))),
        button('files-close', 'Close', () => this.hide(), 'Close the file panel'), this.uploadInput);
      head.append(pathForm, actions);

      this.nameForm = el('form', 'files-name-form');
      this.nameForm.hidden = true;
      this.nameLabel = el('label', 'files-name-label');
      this.nameText = el('span', 'files-name-text');
      this.nameLabel.append(this.nameText);
      this.nameInput = el('input', 'files-name');
      this.nameInput.autocomplete = 'off';
      this.nameInput.spellcheck = false;
      this.nameLabel.append(this.nameInput);
      this.nameForm.append(this.nameLabel, el('button', 'files-name-ok', 'OK'),
        button('files-name-cancel', 'Cancel', () => { this.nameForm.hidden = true; }));
      this.nameForm.querySelector('.files-name-ok').type = 'submit';

      this.status = el('p', 'files-status');
      this.status.setAttribute('role', 'status');
      this.error = el('p', 'files-error error');
      this.error.setAttribute('role', 'alert');
      this.error.hidden = true;

      const table = el('table', 'files-table');
      table.innerHTML = '<thead><tr><th>Name</th><th>Size</th><th>Modified</th><th>Mode</th><th><span class="visually-hidden">Actions</span></th></tr></thead>';
      this.list = el('tbody', 'files-list');
      table.append(this.list);
      const scroller = el('div', 'files-scroll');
      scroller.append(table);

      this.transfers = el('ul', 'files-transfers');
      this.transfers.setAttribute('aria-label', 'Transfers');
      root.append(head, this.nameForm, this.status, this.error, scroller, this.transfers);
      this.root = root;
      this.container.append(root);
    }

    wire() {
      this.onButton = () => (this.root.hidden ? this.show() : this.hide());
      if (this.button && this.button.tagName !== 'BUTTON') { // a place in a toolbar: add the button there
        this.ownButton = button('console-files-button', 'Files', null);
        this.ownButton.setAttribute('aria-expanded', 'false');
        this.button.append(this.ownButton);
        this.button = this.ownButton;
      }
      if (this.button) {
        this.button.hidden = false;
        this.button.disabled = false;
        this.button.addEventListener('click', this.onButton);
      }
      this.onDragOver = (ev) => {
        if (!ev.dataTransfer || ![...ev.dataTransfer.types].includes('Files')) return;
        ev.preventDefault();
        ev.dataTransfer.dropEffect = 'copy';
        this.dropTarget.classList.add('files-drop');
      };
      this.onDragLeave = () => this.dropTarget.classList.remove('files-drop');
      this.onDrop = (ev) => {
        if (!ev.dataTransfer || !ev.dataTransfer.files.length) return;
        ev.preventDefault();
        ev.stopPropagation();
        this.dropTarget.classList.remove('files-drop');
        const files = [...ev.dataTransfer.files];
        this.show().then(() => this.uploadAll(files));
      };
      if (this.dropTarget) {
        // Capture: xterm.js would otherwise see the drop first.
        this.dropTarget.addEventListener('dragover', this.onDragOver, true);
        this.dropTarget.addEventListener('dragleave', this.onDragLeave, true);
        this.dropTarget.addEventListener('drop', this.onDrop, true);
      }
    }

    setError(msg) { this.error.textContent = msg || ''; this.error.hidden = !msg; }

    // connect opens the subsystem and the SFTP session once.
    connect() {
      if (this.client) return Promise.resolve(this.client);
      if (!this.connecting) {
        this.connecting = (async () => {
          this.status.textContent = 'Starting SFTP…';
          const [mod, ch] = await Promise.all([loadSFTP(), this.con.openSubsystem('sftp')]);
          this.client = await mod.open(ch);
          this.dir = await this.client.home();
          return this.client;
        })().finally(() => { this.connecting = null; });
      }
      return this.connecting;
    }

    async show() {
      this.root.hidden = false;
      if (this.button) this.button.setAttribute('aria-expanded', 'true');
      this.setError('');
      try {
        await this.connect();
        await this.cd(this.dir);
      } catch (e) {
        this.status.textContent = '';
        this.setError('Files: ' + e.message);
      }
    }

    hide() {
      this.root.hidden = true;
      if (this.button) this.button.setAttribute('aria-expanded', 'false');
    }

    // run shows an operation's error next to the panel and refreshes after it.
    async run(what, fn) {
      this.setError('');
      try {
        await this.connect();
        await fn();
      } catch (e) {
        this.setError(e.message);
        this.root.dataset.lastError = what;
        return;
      } finally {
        if (this.client) await this.cd(this.dir, true);
      }
    }

    async cd(dir, quiet) {
      try {
        await this.connect();
        const entries = await this.client.list(dir);
        this.dir = dir;
        this.pathInput.value = dir;
        this.render(entries);
        if (!quiet) this.setError('');
        this.status.textContent = `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}`;
        this.root.dataset.dir = dir;
      } catch (e) {
        if (!quiet) this.setError(e.message);
      }
    }

    render(entries) {
      const rows = entries.map((e) => {
        const tr = el('tr');
        tr.dataset.name = e.name;
        tr.dataset.kind = e.dir ? 'dir' : 'file';
        const name = el('td', 'files-name-cell');
        const open = button(e.dir ? 'files-open' : 'files-open files-file', e.name + (e.dir ? '/' : ''),
          () => (e.dir ? this.cd(e.path) : this.download(e)), e.dir ? `Open ${e.name}` : `Download ${e.name}`);
        name.append(open);
        if (e.link) name.append(el('span', 'hint', ' (link)'));
        tr.append(name, el('td', 'files-size', e.dir ? '' : fmtBytes(e.size)),
          el('td', 'files-mtime', new Date(e.mtime * 1000).toLocaleString()), el('td', 'files-mode', e.mode));
        const acts = el('td', 'files-row-actions');
        if (!e.dir) acts.append(button('files-download', 'Download', () => this.download(e), `Download ${e.name}`));
        acts.append(button('files-rename', 'Rename', () => this.ask(`Rename ${e.name} to`, e.name,
          (to) => this.run('rename', () => this.client.rename(e.path, join(this.dir, to)))), `Rename ${e.name}`));
        const del = button('files-delete', 'Delete', () => {
          if (del.dataset.armed !== 'yes') { // a second click confirms
            del.dataset.armed = 'yes';
            del.textContent = 'Confirm delete';
            return;
          }
          this.run('delete', () => this.client.remove(e.path, e.dir));
        }, `Delete ${e.name}`);
        acts.append(del);
        tr.append(acts);
        return tr;
      });
      this.list.replaceChildren(...rows);
    }

    // ask shows the inline name form and calls then(name) on OK.
    ask(label, value, then) {
      this.nameText.textContent = label;
      this.nameInput.value = value;
      this.nameForm.hidden = false;
      this.nameInput.focus();
      this.nameInput.select();
      this.nameForm.onsubmit = (ev) => {
        ev.preventDefault();
        const name = this.nameInput.value.trim();
        if (!name || name.includes('/')) { this.setError('Enter a name without "/".'); return; }
        this.nameForm.hidden = true;
        then(name);
      };
    }

    mkdir(name) { return this.run('mkdir', () => this.client.mkdir(join(this.dir, name))); }

    // transfer adds a row with progress, speed and Cancel, and runs fn(row)
    // with an AbortSignal; row.add(n) counts bytes.
    transfer(kind, name, size, fn) {
      const li = el('li', 'files-transfer');
      li.dataset.name = name;
      li.dataset.kind = kind;
      li.dataset.state = 'running';
      const bar = el('progress', 'files-progress');
      bar.max = size || 1;
      bar.value = 0;
      bar.setAttribute('aria-label', `${kind} ${name}`);
      const info = el('span', 'files-transfer-info');
      const ctl = new AbortController();
      const cancel = button('files-cancel', 'Cancel', () => ctl.abort(), `Cancel ${kind} of ${name}`);
      li.append(el('span', 'files-transfer-name', `${kind === 'upload' ? '↑' : '↓'} ${name}`), bar, info, cancel);
      this.transfers.prepend(li);
      const start = performance.now();
      let done = 0;
      let shown = 0;
      const show = () => {
        const secs = Math.max((performance.now() - start) / 1000, 0.001);
        info.textContent = `${fmtBytes(done)} of ${fmtBytes(size)} · ${fmtBytes(Math.round(done / secs))}/s`;
        bar.value = Math.min(done, bar.max);
        li.dataset.bytes = String(done);
      };
      show();
      const row = {
        signal: ctl.signal,
        add: (n) => {
          done += n;
          const now = performance.now();
          if (now - shown > 100 || done >= size) { shown = now; show(); }
        },
      };
      return fn(row).then(() => {
        show();
        li.dataset.state = 'done';
        info.textContent += ' · done';
      }, (e) => {
        show();
        const cancelled = ctl.signal.aborted;
        li.dataset.state = cancelled ? 'cancelled' : 'failed';
        info.textContent += cancelled ? ' · cancelled' : ' · failed: ' + e.message;
        if (!cancelled) this.setError(e.message);
      }).finally(() => { cancel.remove(); });
    }

    async download(e) {
      let sink;
      try {
        sink = await saveTarget(e.name, e.size); // first: the save dialog needs this click
      } catch (err) {
        this.setError(err.message);
        return;
      }
      if (!sink) return;
      await this.transfer('download', e.name, e.size, async (row) => {
        try {
          await this.connect();
          await this.client.download(e.path, {
            signal: row.signal,
            onData: async (chunk) => { await sink.write(chunk); row.add(chunk.length); },
          });
        } catch (err) {
          await sink.abort();
          throw err;
        }
        await sink.close();
      });
    }

    uploadAll(files) {
      for (const f of files) {
        const dir = this.dir;
        this.queue = this.queue.then(() => this.upload(f, dir));
      }
      return this.queue;
    }

    async upload(file, dir) {
      await this.transfer('upload', file.name, file.size, async (row) => {
        await this.connect();
        const reader = file.stream().getReader();
        try {
          await this.client.upload(join(dir || this.dir, file.name), {
            signal: row.signal,
            read: async () => {
              const { value, done } = await reader.read();
              if (done) return null;
              row.add(value.length);
              return value;
            },
          });
        } finally {
          reader.cancel().catch(() => {});
        }
      });
      if (dir === this.dir) await this.cd(this.dir, true);
    }

    detach() {
      if (this.button) {
        this.button.removeEventListener('click', this.onButton);
        this.button.hidden = true;
        if (this.ownButton) this.ownButton.remove();
      }
      if (this.dropTarget) {
        this.dropTarget.removeEventListener('dragover', this.onDragOver, true);
        this.dropTarget.removeEventListener('dragleave', this.onDragLeave, true);
        this.dropTarget.removeEventListener('drop', this.onDrop, true);
      }
      if (this.client) this.client.close();
      this.client = null;
      this.root.remove();
    }
  }

  window.tubegateFiles = {
    // attach({console, target, button, dropTarget, container}) -> {show,
    // hide, detach}: a file panel for the console's host, opened by button
    // (a <button>, or an element to put a "Files" button in) and by files
    // dropped on dropTarget, shown inside container.
    attach(opts) {
      const p = new Panel(opts);
      return { show: () => p.show(), hide: () => p.hide(), detach: () => p.detach(), panel: p.root };
    },
    // memStats() -> {sftp} of the SFTP module once loaded (for tests).
    async memStats() {
      return sftpModule ? { sftp: (await sftpModule).memStats() } : {};
    },
  };
})();
