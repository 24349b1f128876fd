// Runs one of xling serve's current-view queries with DuckDB (@duckdb/node-api) from the state directory and
// prints the rows' keys and values as JSON. Usage:
//   node view.mjs MODULE_DIR STATE_DIR SQL_FILE
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const [moduleDir, state, file] = process.argv.slice(2);
const require = createRequire(moduleDir + "/");
const { DuckDBInstance } = require("@duckdb/node-api");

const db = await DuckDBInstance.create(":memory:");
const con = await db.connect();
await con.run(`SET file_search_path = '${state.replaceAll("'", "''")}'`);
const view = readFileSync(file, "utf8");
const reader = await con.runAndReadAll(
  `SELECT run_id, setting, query_lang, cand_lang, query_id, metric, value FROM (${view})`);
console.log(JSON.stringify(reader.getRowObjectsJson()));
