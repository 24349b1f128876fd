// Peer of the Go benchmark (see bench_test.go): runs onnxruntime-node over the benchmark's padded
// batches, one pass for every line read from stdin, answering "ok" after each.
// Usage: node bench.js ONNXRUNTIME_NODE_DIR MODEL.onnx BATCHES.json THREADS
"use strict";

const fs = require("fs");
const readline = require("readline");

async function main() {
  const [pkg, modelPath, batchesPath, threads] = process.argv.slice(2);
  const ort = require(pkg);
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: Number(threads),
    executionProviders: ["cpu"],
  });
  const needsTypes = session.inputNames.includes("token_type_ids");
  const feeds = JSON.parse(fs.readFileSync(batchesPath, "utf8")).map((b) => {
    const dims = [b.rows, b.seq];
    const feed = {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(b.ids, BigInt), dims),
      attention_mask: new ort.Tensor("int64", BigInt64Array.from(b.masks, BigInt), dims),
    };
    if (needsTypes) {
      feed.token_type_ids = new ort.Tensor("int64", new BigInt64Array(b.rows * b.seq), dims);
    }
    return feed;
  });
  for await (const _ of readline.createInterface({ input: process.stdin })) {
    for (const feed of feeds) {
      await session.run(feed);
    }
    process.stdout.write("ok\n");
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
