// Stops the build at once, in one line, when this Node.js is older than package.json's "engines" asks for (Debian
// 12's is 18; the stylesheet's compiler needs 20.19): otherwise it would fail later with an error about something else.
import { readFileSync } from "node:fs";

const wanted = JSON.parse(readFileSync("package.json", "utf8")).engines.node.replace(/^>=\s*/, "");
const newer = (a, b) => {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i];
  return true;
};
if (!newer(process.versions.node, wanted)) {
  console.error(`Node.js ${wanted} or newer is needed to build the pages; this is ${process.versions.node} (docs/deploy.md, section 1).`);
  process.exit(1);
}
