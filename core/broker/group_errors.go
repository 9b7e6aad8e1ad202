package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// groupErrorResponse is the answer to a group request that no coordinator
// takes (this broker is not the group's coordinator, it is loading, the
// offsets topic does not exist yet): code in every entry, the shape
// Kafka's error responses have for each version. Requests that name
// several groups get one entry per group.
func groupErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		out := resp.(*kmsg.JoinGroupResponse)
		out.ErrorCode, out.Generation, out.MemberID = code, -1, r.MemberID
	case *kmsg.SyncGroupRequest:
		resp.(*kmsg.SyncGroupResponse).ErrorCode = code
	case *kmsg.HeartbeatRequest:
		resp.(*kmsg.HeartbeatResponse).ErrorCode = code
	case *kmsg.LeaveGroupRequest:
		resp.(*kmsg.LeaveGroupResponse).ErrorCode = code
	case *kmsg.OffsetCommitRequest:
		out := resp.(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			out.Topics = append(out.Topics, st)
		}
	case *kmsg.TxnOffsetCommitRequest:
		out := resp.(*kmsg.TxnOffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			out.Topics = append(out.Topics, st)
		}
	case *kmsg.OffsetFetchRequest:
		out := resp.(*kmsg.OffsetFetchResponse)
		if r.Version >= 8 {
			for _, g := range r.Groups {
				sg := kmsg.NewOffsetFetchResponseGroup()
				sg.Group, sg.ErrorCode = g.Group, code
				out.Groups = append(out.Groups, sg)
			}
			break
		}
		out.ErrorCode = code
		if r.Version < 2 {
			// v0-1 carry errors per partition only.
			for _, rt := range r.Topics {
				st := kmsg.NewOffsetFetchResponseTopic()
				st.Topic = rt.Topic
				for _, p := range rt.Partitions {
					sp := kmsg.NewOffsetFetchResponseTopicPartition()
					sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = p, -1, -1, code
					st.Partitions = append(st.Partitions, sp)
				}
				out.Topics = append(out.Topics, st)
			}
		}
	case *kmsg.DescribeGroupsRequest:
		out := resp.(*kmsg.DescribeGroupsResponse)
		for _, g := range r.Groups {
			sg := kmsg.NewDescribeGroupsResponseGroup()
			sg.Group, sg.ErrorCode = g, code
			out.Groups = append(out.Groups, sg)
		}
	case *kmsg.DeleteGroupsRequest:
		out := resp.(*kmsg.DeleteGroupsResponse)
		for _, g := range r.Groups {
			sg := kmsg.NewDeleteGroupsResponseGroup()
			sg.Group, sg.ErrorCode = g, code
			out.Groups = append(out.Groups, sg)
		}
	case *kmsg.OffsetDeleteRequest:
		resp.(*kmsg.OffsetDeleteResponse).ErrorCode = code
	case *kmsg.ConsumerGroupHeartbeatRequest:
		resp.(*kmsg.ConsumerGroupHeartbeatResponse).ErrorCode = code
	case *kmsg.ConsumerGroupDescribeRequest:
		out := resp.(*kmsg.ConsumerGroupDescribeResponse)
		for _, g := range r.Groups {
			sg := kmsg.NewConsumerGroupDescribeResponseGroup()
			sg.Group, sg.ErrorCode = g, code
			out.Groups = append(out.Groups, sg)
		}
	default:
		panic("broker: groupErrorResponse of a request no coordinator serves: " + kmsg.NameForKey(req.Key()))
	}
	return resp
}
