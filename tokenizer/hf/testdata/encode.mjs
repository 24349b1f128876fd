// Prints, for each line of a text file, the ids that @lenml/tokenizers (a transformers.js fork)
// gives it, as one JSON array a line. Usage:
//   node encode.mjs MODULE_DIR tokenizer.json tokenizer_config.json|- lines.txt [serve]
// With serve it is instead a benchmark peer: for every line read from stdin it encodes all the lines
// once and prints the seconds that pass took, so the benchmark can warm it up and take turns with it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";

const [moduleDir, tokPath, cfgPath, linesPath] = process.argv.slice(2);
const require = createRequire(moduleDir + "/");
const { TokenizerLoader } = require("@lenml/tokenizers");

const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(tokPath, "utf8")),
  tokenizerConfig: cfgPath === "-" ? {} : JSON.parse(readFileSync(cfgPath, "utf8")),
});
const lines = readFileSync(linesPath, "utf8").split("\n");
lines.pop(); // the file ends with a newline

if (process.argv[6] === "serve") {
  let tokens = 0; // kept, so the work cannot be optimised away
  const requests = createInterface({ input: process.stdin });
  for await (const _ of requests) {
    const start = process.hrtime.bigint();
    for (const l of lines) tokens += tokenizer.encode(l, { add_special_tokens: true }).length;
    process.stdout.write(`${Number(process.hrtime.bigint() - start) / 1e9}\n`);
  }
  process.stderr.write(`${tokens} tokens\n`);
} else {
  const out = lines.map((l) => JSON.stringify(tokenizer.encode(l, { add_special_tokens: true })));
  process.stdout.write(out.join("\n") + "\n");
}
