// Builds what every page loads into speakup/static/build/ (served at /assets/ by the app, and carried by the
// wheel): one stylesheet (the design system's core, the components the templates use, Speak Up's rules), one
// script (assets/app.js bundled with the design system's components it names: no further downloads), the
// favicon and the images the stylesheet names. Each file is named by a hash of its content, so it may be
// cached for a year and never revalidated, and is stored beside gzip and brotli copies, so nothing is
// compressed per request. speakup/static/manifest.json maps each logical name to its file (asset_url in
// speakup/web/assets.py). Run with `npm run build` from the repository's root.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";

import * as esbuild from "esbuild";
import * as sass from "sass";

const OUT = "speakup/static/build";
const MANIFEST = "speakup/static/manifest.json";
const URL_PREFIX = "/assets/";
const IMAGES = "node_modules/nhsuk-frontend/dist/nhsuk/assets/images";
// What the stylesheet calls the design system's images ($nhsuk-assets-path in assets/speakup.scss).
const CSS_IMAGE_URL = /url\("?\/assets\/nhsuk\/images\/([\w.-]+)"?\)/g;
const COMPRESSIBLE = new Set([".css", ".js", ".svg"]);

const manifest = {};

/** Writes content under a name carrying its hash, with its compressed copies; returns the served URL. */
function emit(logicalName, content) {
  const bytes = Buffer.from(content);
  const digest = createHash("sha256").update(bytes).digest("hex").slice(0, 12);
  const ext = extname(logicalName);
  const fileName = `${basename(logicalName, ext)}.${digest}${ext}`;
  writeFileSync(join(OUT, fileName), bytes);
  if (COMPRESSIBLE.has(ext)) {
    writeFileSync(join(OUT, `${fileName}.gz`), gzipSync(bytes, { level: 9 }));
    const brotli = {
      [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
      [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    };
    writeFileSync(join(OUT, `${fileName}.br`), brotliCompressSync(bytes, { params: brotli }));
  }
  manifest[logicalName] = fileName;
  return URL_PREFIX + fileName;
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });

const compiled = sass.compile("assets/speakup.scss", {
  loadPaths: ["node_modules", "assets"],
  style: "compressed",
  quietDeps: true,
  silenceDeprecations: ["import"],
});
const images = new Map();
const css = compiled.css.replace(CSS_IMAGE_URL, (_, name) => {
  if (!images.has(name)) images.set(name, emit(name, readFileSync(join(IMAGES, name))));
  return `url("${images.get(name)}")`;
});
emit("speakup.css", css);

const bundled = await esbuild.build({
  entryPoints: ["assets/app.js"],
  bundle: true,
  format: "iife",
  minify: true,
  // Browsers that run ES modules: the design system's own floor. Older ones get the pages without the script.
  target: ["es2017"],
  legalComments: "none",
  write: false,
});
emit("speakup.js", bundled.outputFiles[0].contents);

emit("favicon.svg", readFileSync(join(IMAGES, "favicon.svg")));

const sorted = Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => a.localeCompare(b)));
writeFileSync(MANIFEST, `${JSON.stringify(sorted, null, 2)}\n`);
