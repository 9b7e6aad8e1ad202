// Consumes a topic with a kafkajs consumer group (consumer.run), then uses
// the admin client on the group: fetchOffsets, resetOffsets, listGroups,
// deleteGroups. Prints one line per step; exits non-zero on any error.
// Usage: node group.js BROKER TOPIC COUNT GROUP
const { Kafka, logLevel } = require('./node_modules/kafkajs');

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
  const admin = kafka.admin();
  await admin.connect();
  const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions
    .reduce((sum, p) => sum + Number(p.offset), 0);
  console.log(`committed ${committed}`);
  await admin.resetOffsets({ groupId, topic, earliest: true });
  const reset = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions.map(p => p.offset);
  console.log(`reset ${reset.join(',')}`);
  const listed = (await admin.listGroups()).groups.some(g => g.groupId === groupId);
  console.log(`listed ${listed}`);
  await admin.deleteGroups([groupId]);
  const gone = !(await admin.listGroups()).groups.some(g => g.groupId === groupId);
  console.log(`deleted ${gone}`);
  await admin.disconnect();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
