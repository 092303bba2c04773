// Builds dist/ from src/, the npm packages and the Wasm client (made by
// `make web`): every asset gets a content hash in its name and gzip and
// brotli siblings; index.html points at the hashed names. No network.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
// Order matters: an asset is hashed after the assets it references (the
// fonts before style.css, which names them in url()).
const assets = {
  'jetbrains-mono-400.woff2': 'node_modules/@fontsource/jetbrains-mono/files/jetbrains-mono-latin-400-normal.woff2',
  'jetbrains-mono-700.woff2': 'node_modules/@fontsource/jetbrains-mono/files/jetbrains-mono-latin-700-normal.woff2',
  'wasm_exec.js': 'build/wasm_exec.js',
  'main.wasm': 'build/main.wasm',
  'sftp.wasm': 'build/sftp.wasm',
  'xterm.js': 'node_modules/@xterm/xterm/lib/xterm.js',
  'xterm.css': 'node_modules/@xterm/xterm/css/xterm.css',
  'addon-fit.js': 'node_modules/@xterm/addon-fit/lib/addon-fit.js',
  'addon-search.js': 'node_modules/@xterm/addon-search/lib/addon-search.js',
  'addon-web-links.js': 'node_modules/@xterm/addon-web-links/lib/addon-web-links.js',
  'addon-unicode11.js': 'node_modules/@xterm/addon-unicode11/lib/addon-unicode11.js',
  'addon-webgl.js': 'node_modules/@xterm/addon-webgl/lib/addon-webgl.js',
  'api.js': 'src/api.js',
  'ui.js': 'src/ui.js',
  'errors.js': 'src/errors.js',
  'tubestatus.js': 'src/tubestatus.js',
  'files.js': 'src/files.js',
  'settings.js': 'src/settings.js',
  'hostkeys.js': 'src/hostkeys.js',
  'consoles.js': 'src/consoles.js',
  'forwards.js': 'src/forwards.js',
  'home.js': 'src/home.js',
  'app.js': 'src/app.js',
  'links.js': 'src/links.js',
  'password.js': 'src/password.js',
  'adminlink.js': 'src/adminlink.js',
  'admin.js': 'src/admin.js',
  'sso.js': 'src/sso.js',
  'style.css': 'src/style.css',
};

// Only .gitkeep survives: it keeps the embedded directory in git.
for (const name of readdirSync(dist, { withFileTypes: true })) {
  if (name.name !== '.gitkeep') rmSync(join(dist, name.name), { recursive: true, force: true });
}
mkdirSync(join(dist, 'assets'), { recursive: true });

function emit(path, data) {
  writeFileSync(path, data);
  writeFileSync(path + '.gz', gzipSync(data, { level: 9 }));
  writeFileSync(path + '.br', brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  }));
}

const names = {};
const inCSS = new Set(); // assets referenced from a stylesheet, not from index.html
const sizes = [];
for (const [name, src] of Object.entries(assets)) {
  let data = readFileSync(join(here, src));
  if (name.endsWith('.js')) {
    // The npm builds point at source maps that are not shipped.
    data = Buffer.from(data.toString('utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
  }
  if (name.endsWith('.css')) {
    // url(NAME) of an asset hashed before this one -> its hashed name.
    data = Buffer.from(data.toString('utf8').replace(/url\(([^)'"]+)\)/g, (m, ref) => {
      if (!names[ref]) return m;
      inCSS.add(ref);
      return `url(${names[ref]})`;
    }));
  }
  const hash = createHash('sha256').update(data).digest('hex').slice(0, 12);
  const dot = name.lastIndexOf('.');
  const hashed = `${name.slice(0, dot)}.${hash}${name.slice(dot)}`;
  names[name] = '/assets/' + hashed;
  emit(join(dist, 'assets', hashed), data);
  sizes.push([hashed, data.length, gzipSync(data, { level: 9 }).length]);
}

// Each page points at the hashed names of the assets it uses; every asset
// must be used by a page or a stylesheet.
const used = new Set(inCSS);
for (const page of ['index.html', 'admin.html']) {
  let html = readFileSync(join(here, 'src', page), 'utf8');
  for (const [name, url] of Object.entries(names)) {
    const re = new RegExp(`(href|src|content)="${name.replace('.', '\\.')}"`, 'g');
    if (!re.test(html)) continue;
    used.add(name);
    html = html.replace(re, `$1="${url}"`);
  }
  emit(join(dist, page), Buffer.from(html));
}
for (const name of Object.keys(names)) {
  if (!used.has(name)) throw new Error(`no page references ${name}`);
}

for (const [name, raw, gz] of sizes) {
  console.log(`${name.padEnd(36)} ${String(raw).padStart(9)} B  gzip ${String(gz).padStart(9)} B`);
}
