package broker

// ListGroups, versions 0-5: the groups of every loaded shard on this
// broker, with v4's state and v5's type filters (core/group). A shard
// still loading makes the answer COORDINATOR_LOAD_IN_PROGRESS, as Kafka
// does, with the groups of the others.

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { registerAPI(16, 0, 5, handleListGroups) }

func handleListGroups(b *Broker, nowMs int64, req *Request) error {
	r := req.Msg.(*kmsg.ListGroupsRequest)
	resp := kmsg.NewPtrListGroupsResponse()
	resp.Version = r.Version
	rt := b.groupRuntime()
	if ts := b.topics[offsetsTopic]; ts != nil {
		for _, p := range ts.partitions {
			if !p.isLeader() {
				continue
			}
			s, ok := rt.Loaded(p.index)
			if !ok {
				resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
				continue
			}
			out := s.ListGroups(nowMs, 0, r)
			if len(out.Replies) == 1 {
				resp.Groups = append(resp.Groups, out.Replies[0].Resp.(*kmsg.ListGroupsResponse).Groups...)
			}
		}
	}
	slices.SortFunc(resp.Groups, func(x, y kmsg.ListGroupsResponseGroup) int {
		switch {
		case x.Group < y.Group:
			return -1
		case x.Group > y.Group:
			return 1
		}
		return 0
	})
	b.reply(req, resp)
	return nil
}
