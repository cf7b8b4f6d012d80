// Compile Solidity with solcjs (npm `solc`): standard JSON in on stdin, out on stdout.
// Imports such as "@openzeppelin/contracts/..." resolve from the repo's node_modules.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = path.resolve(__dirname, "..", "..");
const input = fs.readFileSync(0, "utf8");

function findImports(name) {
  for (const base of [path.join(root, "node_modules"), path.join(root, "tests", "contracts"), path.join(root, "app", "contracts")]) {
    const file = path.join(base, name);
    if (fs.existsSync(file)) {
      return { contents: fs.readFileSync(file, "utf8") };
    }
  }
  return { error: `not found: ${name}` };
}

const output = solc.compile(input, { import: findImports });
process.stdout.write(JSON.stringify({ version: solc.version(), output: JSON.parse(output) }));
