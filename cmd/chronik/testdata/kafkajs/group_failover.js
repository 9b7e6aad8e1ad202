// A kafkajs group consumer (consumer.run, committing after every batch)
// that rides through a coordinator failover: it consumes until it has seen
// TOTAL distinct values, disconnects (committing what it resolved) and
// prints "consumed DISTINCT DELIVERIES". It then waits for a line on stdin
// (the Go test checks the committed offsets with its own client first) and
// runs group_admin.js's steps on the group. Exits non-zero on any error or
// after TIMEOUT_S.
// Usage: node group_failover.js BROKERS(comma-separated) TOPIC GROUP TOTAL TIMEOUT_S
const { Kafka, logLevel } = require('./node_modules/kafkajs');
const readline = require('readline');
const { adminSteps } = require('./group_admin');

(async () => {
  const [brokers, topic, groupId, totalArg, timeoutArg] = process.argv.slice(2);
  const total = Number(totalArg);
  const timer = setTimeout(() => {
    console.log(`FAIL: not done within ${timeoutArg}s`);
    process.exit(1);
  }, Number(timeoutArg) * 1000);
  // Logs go to stderr (stdout carries the results), which the Go test
  // prints on failure.
  const logCreator = () => ({ namespace, level, log }) => {
    console.error(JSON.stringify({ namespace, level, ...log }));
  };
  const kafka = new Kafka({
    clientId: 'chronik-e2e-failover',
    brokers: brokers.split(','),
    logLevel: process.env.CHRONIK_E2E_CLIENT_LOGS ? logLevel.INFO : logLevel.WARN,
    // kafkajs retries a dead broker (the killed one) five times with
    // backoff up to 30 s, then restarts the consumer after the last
    // backoff: shorter backoffs keep the test short.
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 5 },
    logCreator,
  });
  // disconnect waits for the fetch in flight: a short fetch wait (5 s by
  // default) keeps it short.
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  let deliveries = 0;
  await new Promise((resolve, reject) => {
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.add(message.value.toString());
        deliveries++;
        if (seen.size >= total) resolve();
      },
    }).catch(reject);
  });
  await consumer.disconnect(); // commits what eachMessage resolved
  console.log(`consumed ${seen.size} ${deliveries}`);
  await new Promise((resolve) => readline.createInterface({ input: process.stdin }).once('line', resolve));

  await adminSteps(kafka, groupId, topic);
  clearTimeout(timer);
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
