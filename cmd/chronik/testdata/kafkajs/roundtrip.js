// kafkajs round trip against a Chronik broker: create a topic with the admin
// client, produce with an idempotent gzip producer (acks=-1), and check the
// acknowledged offsets against ListOffsets. kafkajs's consumer needs
// consumer groups, which Chronik does not have yet, so reading back is done
// by the Go test with franz-go.
// Usage: node roundtrip.js BROKER TOPIC COUNT
const { Kafka, logLevel, CompressionTypes, Partitioners } = require('kafkajs')

async function main() {
  const [broker, topic, countText] = process.argv.slice(2)
  const count = Number(countText)
  const kafka = new Kafka({ clientId: 'chronik-e2e', brokers: [broker], logLevel: logLevel.WARN })
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  const acked = [0, 0]
  for (let i = 0; i < count; i++) {
    const partition = i % 2
    const [meta] = await producer.send({
      topic, acks: -1, compression: CompressionTypes.GZIP,
      messages: [{ key: `key-${i}`, value: `value-${i}`, partition, headers: { i: String(i) } }],
    })
    if (meta.errorCode !== 0 || Number(meta.baseOffset) !== acked[partition]) {
      throw new Error(`record ${i}: error ${meta.errorCode} base offset ${meta.baseOffset}, want ${acked[partition]}`)
    }
    acked[partition]++
  }
  const offsets = await admin.fetchTopicOffsets(topic)
  for (const o of offsets) {
    if (Number(o.high) !== acked[o.partition] || Number(o.low) !== 0) {
      throw new Error(`partition ${o.partition}: offsets ${JSON.stringify(o)}, want high ${acked[o.partition]}`)
    }
  }
  await producer.disconnect()
  await admin.disconnect()
  console.log(`OK produced=${count}`)
}

main().catch((e) => { console.error(e); process.exit(1) })
