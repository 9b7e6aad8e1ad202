package broker

// DeleteTopics, versions 0-6.
//
// v0-v5 name topics; v6 names them by name or by id (exactly one of the
// two). v5 adds error messages.

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/metadata"
)

func init() { registerAPI(20, 0, 6, handleDeleteTopics) }

func handleDeleteTopics(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.DeleteTopicsRequest)
	resp := kmsg.NewPtrDeleteTopicsResponse()
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	for _, name := range r.TopicNames {
		targets = append(targets, target{name: &name})
	}
	for _, t := range r.Topics {
		targets = append(targets, target{name: t.Topic, id: t.TopicID})
	}
	for _, t := range targets {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic = t.name
		st.TopicID = t.id
		var code int16
		var msg string
		switch {
		case t.name != nil && *t.name != "":
			if ts := b.topics[*t.name]; ts != nil {
				st.TopicID = ts.meta.ID
			}
			code, msg = b.deleteTopic(*t.name)
		case t.id != [16]byte{}:
			mt := b.image.TopicByID(metadata.TopicID(t.id))
			if mt == nil {
				code, msg = kerrUnknownTopicID, "This server does not host this topic ID."
				break
			}
			name := mt.Name
			st.Topic = &name
			code, msg = b.deleteTopic(name)
		default:
			code, msg = kerrInvalidRequest, "Neither topic name nor id were specified."
		}
		st.ErrorCode, st.ErrorMessage = code, errorMessage(code, msg)
		resp.Topics = append(resp.Topics, st)
	}
	var slots []stagedSlot
	for i := range resp.Topics {
		if st := &resp.Topics[i]; st.ErrorCode == codeStaged {
			slots = append(slots, stagedSlot{&st.ErrorCode, &st.ErrorMessage})
		}
	}
	b.finishStaged(nowMs, req, resp, slots, nil)
	return nil
}
