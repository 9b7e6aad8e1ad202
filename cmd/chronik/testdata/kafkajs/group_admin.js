// The admin steps on a consumer group shared by group.js and
// group_failover.js: fetchOffsets (their sum), resetOffsets to the
// earliest (read back), listGroups and deleteGroups. Prints one line per
// step.
async function adminSteps(kafka, groupId, topic) {
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
}

module.exports = { adminSteps };
