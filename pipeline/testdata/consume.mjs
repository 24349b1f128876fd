// An independent reader of xling's topics: kafkajs consumes a topic from the first offset and
// apache-arrow decodes each message's Arrow IPC stream. Prints one JSON line per message:
// {partition, offset, key, headers, rows}. Stops once every partition has been read to its end.
//
//   node consume.mjs BROKER TOPIC
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_MODULES, 'x.js'));
const { Kafka, logLevel } = require('kafkajs');
const { tableFromIPC } = require('apache-arrow');

const [broker, topic] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'xling-contract-test', brokers: [broker], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const ends = await admin.fetchTopicOffsets(topic); // [{partition, high}]
await admin.disconnect();
const left = new Map(ends.filter(e => Number(e.high) > 0).map(e => [e.partition, Number(e.high)]));

const plain = v => {
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && typeof v.toArray === 'function') return Array.from(v.toArray(), plain);
  if (ArrayBuffer.isView(v)) return Array.from(v, plain);
  return v;
};

const consumer = kafka.consumer({ groupId: 'contract-' + process.pid });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
const done = new Promise(resolve => {
  if (left.size === 0) resolve();
  consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.toString()]));
      const table = tableFromIPC(message.value);
      const rows = table.toArray().map(r => Object.fromEntries(table.schema.fields.map(f => [f.name, plain(r[f.name])])));
      console.log(JSON.stringify({ partition, offset: Number(message.offset), key: message.key?.toString() ?? '', headers, schema: table.schema.metadata.get('xling.schema'), rows }));
      if (Number(message.offset) + 1 >= left.get(partition)) {
        left.delete(partition);
        if (left.size === 0) resolve();
      }
    },
  });
});
await done;
await consumer.disconnect();
