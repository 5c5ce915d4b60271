// Writes the named Fluent Emoji Flat icons as SVG files, with the set's licence,
// from the Iconify JSON package installed by npm. Used by `make vendor`.
// Usage: node scripts/vendor_illustrations.mjs OUT_DIR NAME...
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const pkg = "node_modules/@iconify-json/fluent-emoji-flat";
const [outDir, ...names] = process.argv.slice(2);
if (!outDir || names.length === 0) {
  console.error("usage: node scripts/vendor_illustrations.mjs OUT_DIR NAME...");
  process.exit(2);
}
const set = JSON.parse(readFileSync(join(pkg, "icons.json"), "utf8"));
const info = JSON.parse(readFileSync(join(pkg, "info.json"), "utf8"));
const { version } = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
for (const name of names) {
  const icon = set.icons[name];
  if (!icon) {
    console.error(`no icon named ${name} in ${pkg}`);
    process.exit(1);
  }
  const width = icon.width ?? set.width ?? 16;
  const height = icon.height ?? set.height ?? 16;
  const box = `${icon.left ?? 0} ${icon.top ?? 0} ${width} ${height}`;
  writeFileSync(
    join(outDir, `${name}.svg`),
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${box}" width="${width}" height="${height}">${icon.body}</svg>\n`,
  );
}
// The npm package states its licence in info.json only: write it out in full.
writeFileSync(join(outDir, "LICENSE"), `${info.name} (${pkg} ${version}), ${info.author.url}
Licence: ${info.license.title} (${info.license.url})

MIT License

Copyright (c) ${info.author.name}.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`);
