// An independent Kafka client for the interop test: kafkajs (pure JavaScript, no librdkafka).
//   node kafkajs_peer.js produce BROKERS TOPIC FILE.jsonl   one message per line, key = subject
//   node kafkajs_peer.js consume BROKERS TOPIC COUNT         prints {"messages":N,"ids":[...]}
// Exits non-zero with one line on stderr on any error or after 60 s.
'use strict';
const fs = require('fs');
const { Kafka, logLevel, Partitioners } = require('kafkajs');

const [mode, brokers, topic, arg] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'x402rec-kafkajs-peer', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const timer = setTimeout(() => { console.error('kafkajs_peer: timed out'); process.exit(1); }, 60000);

async function produce() {
  const lines = fs.readFileSync(arg, 'utf8').split('\n').filter((l) => l.length > 0);
  // Not idempotent: the mock cluster answers InitProducerId in a way kafkajs 2.2.4 rejects
  // ("Broker 0 not found in the cached metadata"); acks=-1 is kafkajs's default anyway.
  const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  for (let i = 0; i < lines.length; i += 500) {
    const messages = lines.slice(i, i + 500).map((l) => ({ key: JSON.parse(l).subject, value: l }));
    await p.send({ topic, messages });
  }
  await p.disconnect();
  console.log(JSON.stringify({ produced: lines.length }));
}

async function consume() {
  const want = Number(arg);
  const c = kafka.consumer({ groupId: 'kafkajs-peer-' + process.pid });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  const ids = [];
  await new Promise((resolve) => {
    c.run({
      eachMessage: async ({ message }) => {
        const h = message.headers['x402-alert-id'];
        ids.push(h ? h.toString() : null);
        if (ids.length >= want) resolve();
      },
    });
  });
  await c.disconnect();
  console.log(JSON.stringify({ messages: ids.length, ids }));
}

(mode === 'produce' ? produce() : consume())
  .then(() => { clearTimeout(timer); process.exit(0); })
  .catch((e) => { console.error('kafkajs_peer: ' + e.message); process.exit(1); });
