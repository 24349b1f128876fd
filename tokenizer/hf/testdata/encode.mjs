// Prints, for each line of a text file, the ids that @lenml/tokenizers (a transformers.js fork)
// gives it, as one JSON array a line. Usage:
//   node encode.mjs MODULE_DIR tokenizer.json tokenizer_config.json|- lines.txt [repeat]
// With repeat > 0 it instead times `repeat` passes over the lines and prints the lines per second.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const [moduleDir, tokPath, cfgPath, linesPath, repeatArg] = process.argv.slice(2);
const require = createRequire(moduleDir + "/");
const { TokenizerLoader } = require("@lenml/tokenizers");

const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(readFileSync(tokPath, "utf8")),
  tokenizerConfig: cfgPath === "-" ? {} : JSON.parse(readFileSync(cfgPath, "utf8")),
});
const lines = readFileSync(linesPath, "utf8").split("\n");
lines.pop(); // the file ends with a newline

const repeat = Number(repeatArg || 0);
if (repeat > 0) {
  const start = process.hrtime.bigint();
  let n = 0;
  for (let r = 0; r < repeat; r++) {
    for (const l of lines) n += tokenizer.encode(l, { add_special_tokens: true }).length;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(JSON.stringify({ lines_per_sec: (repeat * lines.length) / secs, tokens: n }) + "\n");
} else {
  const out = lines.map((l) => JSON.stringify(tokenizer.encode(l, { add_special_tokens: true })));
  process.stdout.write(out.join("\n") + "\n");
}
