package broker

// InitProducerId, versions 0-5.
//
// Idempotent producers only: a request with a transactional id is refused
// with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, since Chronik has no
// transaction coordinator yet. v3+ may carry the producer's current id and
// epoch (KIP-360); like Kafka, a producer without a transactional id gets a
// fresh id with epoch 0 whatever it carried.
//
// Ids are reserved in blocks recorded in the metadata image before any id
// of the block is handed out, so a crash never leads to an id being reused.

import "github.com/twmb/franz-go/pkg/kmsg"

func init() { registerAPI(22, 0, 5, handleInitProducerID) }

func handleInitProducerID(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.InitProducerIDRequest)
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.ProducerID = -1
	resp.ProducerEpoch = -1
	if r.TransactionalID != nil {
		resp.ErrorCode = kerrTransactionalIDAuthorizationFailed
		b.reply(req, resp)
		return nil
	}
	id, err := b.allocateProducerID()
	if err != nil {
		b.env.Logger.Error("allocate producer id", "err", err)
		resp.ErrorCode = kerrKafkaStorageError
		b.reply(req, resp)
		return nil
	}
	resp.ProducerID = id
	resp.ProducerEpoch = 0
	b.reply(req, resp)
	return nil
}

func (b *Broker) allocateProducerID() (int64, error) {
	if b.nextProducerID >= b.image.ProducerIDEnd {
		old := b.image.ProducerIDEnd
		b.image.ProducerIDEnd = b.nextProducerID + producerIDBlockSize
		if err := b.saveImage(); err != nil {
			b.image.ProducerIDEnd = old
			return -1, err
		}
	}
	id := b.nextProducerID
	b.nextProducerID++
	return id, nil
}
