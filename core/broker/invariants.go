package broker

import "fmt"

// CheckInvariants panics, naming the broken invariant, when the broker's
// internal state contradicts itself. Tests and the simulator call it after
// every step; it walks every partition, so production code does not.
func (b *Broker) CheckInvariants() {
	waiting := map[*pendingProduce]int{}
	var order []*pendingProduce // first-seen order, so a failure message never depends on map order
	for _, name := range b.image.TopicNames() {
		ts := b.topics[name]
		if ts == nil {
			panic(fmt.Sprintf("broker invariant: topic %q is in the image but not open", name))
		}
		if int32(len(ts.partitions)) != ts.meta.Partitions {
			panic(fmt.Sprintf("broker invariant: topic %q has %d open partitions, image says %d", name, len(ts.partitions), ts.meta.Partitions))
		}
		for _, p := range ts.partitions {
			if p.log == nil {
				if p.offlineErr == nil {
					panic(fmt.Sprintf("broker invariant: partition %s has no log and no offline cause", p.dir))
				}
				if len(p.waiters) > 0 {
					panic(fmt.Sprintf("broker invariant: offline partition %s still has %d produce waiters", p.dir, len(p.waiters)))
				}
				continue
			}
			p.log.CheckInvariants()
			hw := p.log.HighWatermark()
			if b.cfg.SyncWrites && hw > p.log.DurableEndOffset() {
				panic(fmt.Sprintf("broker invariant: partition %s high watermark %d above durable end %d with sync writes on", p.dir, hw, p.log.DurableEndOffset()))
			}
			for _, w := range p.waiters {
				if w.target > p.log.LogEndOffset() {
					panic(fmt.Sprintf("broker invariant: partition %s produce waiter target %d beyond log end %d", p.dir, w.target, p.log.LogEndOffset()))
				}
				if waiting[w.pending] == 0 {
					order = append(order, w.pending)
				}
				waiting[w.pending]++
			}
		}
	}
	if len(b.topics) != b.image.Len() {
		panic(fmt.Sprintf("broker invariant: %d open topics, %d in the image", len(b.topics), b.image.Len()))
	}
	if len(waiting) != b.pendingProduces {
		panic(fmt.Sprintf("broker invariant: %d produce requests counted as pending, %d found waiting", b.pendingProduces, len(waiting)))
	}
	for _, pending := range order {
		if n := waiting[pending]; pending.remaining != n {
			panic(fmt.Sprintf("broker invariant: produce request has %d partitions remaining but %d waiters", pending.remaining, n))
		}
	}
	if len(b.waitingFetches) > b.cfg.MaxWaitingFetches {
		panic(fmt.Sprintf("broker invariant: %d waiting fetches above the limit %d", len(b.waitingFetches), b.cfg.MaxWaitingFetches))
	}
	if b.nextProducerID > b.image.ProducerIDEnd {
		panic(fmt.Sprintf("broker invariant: next producer id %d beyond the reserved end %d", b.nextProducerID, b.image.ProducerIDEnd))
	}
}
