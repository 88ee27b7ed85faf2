// Assembles the release site (what cargo-leptos would leave in target/site) from the built parts:
//   node scripts/site.mjs STAGE SITE
// STAGE holds wasm-bindgen's vitals.js and the optimized vitals.wasm; style/main.css becomes
// pkg/vitals.css and public/ is copied to the site's root. Every file gets a gzip (-9) and a
// brotli (q11) copy, which the release server embeds and serves by the browser's Accept-Encoding.
// A file is written only when its bytes change, so an unchanged site leaves the server's
// build (which watches these files) untouched; files no longer part of the site are removed.
import { readFileSync, writeFileSync, readdirSync, statSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

const [stage, site] = process.argv.slice(2);
if (!stage || !site) {
  console.error('usage: node scripts/site.mjs STAGE SITE');
  process.exit(2);
}

function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

// site-relative path -> source file
const wanted = new Map([
  ['pkg/vitals.js', join(stage, 'vitals.js')],
  ['pkg/vitals.wasm', join(stage, 'vitals.wasm')],
  ['pkg/vitals.css', 'style/main.css'],
]);
for (const file of filesUnder('public')) wanted.set(relative('public', file), file);

function writeIfChanged(path, bytes) {
  if (existsSync(path) && readFileSync(path).equals(bytes)) return false;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return true;
}

const variants = (bytes) => ({
  gz: gzipSync(bytes, { level: 9 }),
  br: brotliCompressSync(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  }),
});

const keep = new Set();
let written = 0;
for (const [rel, source] of wanted) {
  const bytes = readFileSync(source);
  const target = join(site, rel);
  keep.add(target);
  keep.add(`${target}.gz`);
  keep.add(`${target}.br`);
  // Compressed again only when the file changed or a copy is missing (brotli q11 of the WASM
  // takes seconds): an unchanged file's copies are of these very bytes.
  if (writeIfChanged(target, bytes) || !existsSync(`${target}.gz`) || !existsSync(`${target}.br`)) {
    const { gz, br } = variants(bytes);
    writeFileSync(`${target}.gz`, gz);
    writeFileSync(`${target}.br`, br);
    written += 1;
  }
}
for (const file of filesUnder(site)) {
  if (!keep.has(file)) rmSync(file);
}
const wasmGz = statSync(join(site, 'pkg/vitals.wasm.gz')).size;
console.log(`site: ${wanted.size} files (${written} rewritten); the WASM's gzip copy is ${wasmGz} B`);
