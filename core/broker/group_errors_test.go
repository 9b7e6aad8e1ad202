package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupErrorResponses: every group request, at every version kmsg
// knows, gets an error answer that encodes at its version and carries the
// code in each entry it names.
func TestGroupErrorResponses(t *testing.T) {
	const code = 16 // NOT_COORDINATOR
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group = "g"
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0}, {Partition: 1}}}}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = "g"
	fetch.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	fetch.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g"}, {Group: "h"}}
	describe := kmsg.NewPtrDescribeGroupsRequest()
	describe.Groups = []string{"g", "h"}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{"g", "h"}
	cgd := kmsg.NewPtrConsumerGroupDescribeRequest()
	cgd.Groups = []string{"g", "h"}
	join := kmsg.NewPtrJoinGroupRequest()
	join.MemberID = "m-1"
	reqs := []kmsg.Request{join, kmsg.NewPtrSyncGroupRequest(), kmsg.NewPtrHeartbeatRequest(), kmsg.NewPtrLeaveGroupRequest(),
		commit, fetch, describe, del, kmsg.NewPtrOffsetDeleteRequest(), kmsg.NewPtrConsumerGroupHeartbeatRequest(), cgd}
	for _, req := range reqs {
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			resp := groupErrorResponse(req, code)
			checkEncodes(t, resp)
			var codes []int16
			switch r := resp.(type) {
			case *kmsg.JoinGroupResponse:
				codes = append(codes, r.ErrorCode)
				if r.MemberID != "m-1" || r.Generation != -1 {
					t.Fatalf("join v%d: member %q generation %d", v, r.MemberID, r.Generation)
				}
			case *kmsg.SyncGroupResponse:
				codes = append(codes, r.ErrorCode)
			case *kmsg.HeartbeatResponse:
				codes = append(codes, r.ErrorCode)
			case *kmsg.LeaveGroupResponse:
				codes = append(codes, r.ErrorCode)
			case *kmsg.OffsetCommitResponse:
				for _, st := range r.Topics {
					for _, sp := range st.Partitions {
						codes = append(codes, sp.ErrorCode)
					}
				}
				if len(codes) != 2 {
					t.Fatalf("commit v%d: %d partition answers", v, len(codes))
				}
			case *kmsg.OffsetFetchResponse:
				switch {
				case v >= 8:
					for _, g := range r.Groups {
						codes = append(codes, g.ErrorCode)
					}
					if len(codes) != 2 {
						t.Fatalf("fetch v%d: %d groups", v, len(codes))
					}
				case v >= 2:
					codes = append(codes, r.ErrorCode)
				default:
					for _, st := range r.Topics {
						for _, sp := range st.Partitions {
							codes = append(codes, sp.ErrorCode)
						}
					}
				}
			case *kmsg.DescribeGroupsResponse:
				for _, g := range r.Groups {
					codes = append(codes, g.ErrorCode)
				}
			case *kmsg.DeleteGroupsResponse:
				for _, g := range r.Groups {
					codes = append(codes, g.ErrorCode)
				}
			case *kmsg.OffsetDeleteResponse:
				codes = append(codes, r.ErrorCode)
			case *kmsg.ConsumerGroupHeartbeatResponse:
				codes = append(codes, r.ErrorCode)
			case *kmsg.ConsumerGroupDescribeResponse:
				for _, g := range r.Groups {
					codes = append(codes, g.ErrorCode)
				}
			}
			if len(codes) == 0 {
				t.Fatalf("%T v%d: no entry carries the error", resp, v)
			}
			for _, c := range codes {
				if c != code {
					t.Fatalf("%T v%d: code %d, want %d", resp, v, c, code)
				}
			}
		}
	}
}
