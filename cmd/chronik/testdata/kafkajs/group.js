// Consumes a topic with a kafkajs consumer group (consumer.run), then uses
// the admin client on the group: fetchOffsets, resetOffsets, listGroups,
// deleteGroups. Prints one line per step; exits non-zero on any error.
// Usage: node group.js BROKER TOPIC COUNT GROUP
const { Kafka, logLevel } = require('./node_modules/kafkajs');
const { adminSteps } = require('./group_admin');

(async () => {
  const [broker, topic, countArg, groupId] = process.argv.slice(2);
  const count = Number(countArg);
  const kafka = new Kafka({ clientId: 'chronik-e2e-group', brokers: [broker], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  await new Promise((resolve, reject) => {
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.add(message.value.toString());
        if (seen.size >= count) resolve();
      },
    }).catch(reject);
  });
  await consumer.disconnect(); // commits what eachMessage resolved
  console.log(`consumed ${seen.size}`);
  await adminSteps(kafka, groupId, topic);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
