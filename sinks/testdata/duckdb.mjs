// Runs the DuckDB queries of docs/usage.md over one run directory with @duckdb/node-api and prints their answers
// as one JSON object. Usage:
//   node duckdb.mjs MODULE_DIR RUN_DIR QUERY_ID
import { createRequire } from "node:module";

const [moduleDir, run, queryId] = process.argv.slice(2);
const require = createRequire(moduleDir + "/");
const { DuckDBInstance } = require("@duckdb/node-api");

const db = await DuckDBInstance.create(":memory:");
const con = await db.connect();
await con.run(`SET file_search_path = '${run.replaceAll("'", "''")}'`);

const queries = {
  // Per-language mAP: against the language itself (Mo.) and against the pool of every language (Mul.).
  perLanguage: `
    SELECT query_lang,
           max(value) FILTER (WHERE setting = 'mono')  AS mono_map,
           max(value) FILTER (WHERE setting = 'multi') AS multi_map
    FROM 'metrics.parquet'
    WHERE metric = 'map' AND query_id = '' AND setting IN ('mono', 'multi')
    GROUP BY query_lang ORDER BY query_lang`,
  // The same monolingual means, recomputed from each query's own row.
  perQuery: `
    SELECT query_lang, avg(value) AS mono_map, count(*) AS queries
    FROM 'metrics.parquet'
    WHERE metric = 'map' AND setting = 'mono' AND query_id <> ''
    GROUP BY query_lang ORDER BY query_lang`,
  // One query's top 10 in the multilingual pool.
  top10: `
    SELECT rank, candidate_id, score, relevant
    FROM 'rankings.parquet'
    WHERE setting = 'multi' AND query_id = $1
    ORDER BY rank LIMIT 10`,
  // How many embeddings each language has, and their dimension.
  embeddings: `
    SELECT lang, kind, count(*) AS n, min(len(vector)) AS dim_min, max(len(vector)) AS dim_max
    FROM 'embeddings.parquet'
    GROUP BY ALL ORDER BY ALL`,
  // Exact search by hand: the pool's 10 candidates nearest to the query, by cosine similarity.
  nearest: `
    SELECT c.item_id AS candidate_id, list_cosine_similarity(q.vector, c.vector) AS cosine
    FROM 'embeddings.parquet' q JOIN 'embeddings.parquet' c ON c.dataset = q.dataset AND c.kind = 'candidate'
    WHERE q.item_id = $1 AND q.kind = 'query'
    ORDER BY cosine DESC, c.item_id LIMIT 10`,
};

const out = {};
for (const [name, sql] of Object.entries(queries)) {
  const params = sql.includes("$1") ? [queryId] : [];
  const reader = await con.runAndReadAll(sql, params);
  out[name] = reader.getRowObjectsJson();
}
console.log(JSON.stringify(out));
