package txn

// DescribeTransactions (v0) and ListTransactions (v0-v2) answer from the
// shard's state; an answer revealing state of an uncommitted write waits
// for it.

import (
	"regexp"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-streaming/chronik/core/coord"
)

// DescribeTransactions describes the named transactional ids.
func (s *Shard) DescribeTransactions(nowMs int64, ref coord.ReplyRef, req *kmsg.DescribeTransactionsRequest) coord.Write {
	var b outBuf
	resp := kmsg.NewPtrDescribeTransactionsResponse()
	resp.Version = req.Version
	b.reply(ref, resp)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		t := s.txns[id]
		switch {
		case id == "":
			st.ErrorCode = kerr.InvalidRequest.Code
		case t == nil:
			st.ErrorCode = kerr.TransactionalIDNotFound.Code
		default:
			b.reveal(t)
			m := t.metadata()
			st.State, st.TimeoutMillis, st.StartTimestamp = m.State.String(), m.TimeoutMs, m.StartMs
			st.ProducerID, st.ProducerEpoch = m.ProducerID, m.ProducerEpoch
			for _, tp := range m.Partitions {
				if n := len(st.Topics); n == 0 || st.Topics[n-1].Topic != tp.Topic {
					tt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
					tt.Topic = tp.Topic
					st.Topics = append(st.Topics, tt)
				}
				last := &st.Topics[len(st.Topics)-1]
				last.Partitions = append(last.Partitions, tp.Partition)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return s.finish(&b)
}

// ListTransactions lists the shard's transactional ids, in order, that
// pass every filter: states (by Kafka's names; unknown names are echoed
// in UnknownStateFilters, and when every name is unknown nothing is
// listed), producer ids, a minimum running time (v1+: started at least
// DurationFilterMillis before nowMs) and a pattern the whole id must
// match (v2+).
func (s *Shard) ListTransactions(nowMs int64, ref coord.ReplyRef, req *kmsg.ListTransactionsRequest) coord.Write {
	var b outBuf
	resp := kmsg.NewPtrListTransactionsResponse()
	resp.Version = req.Version
	b.reply(ref, resp)
	states := map[State]bool{}
	for _, name := range req.StateFilters {
		if st, ok := stateByName(name); ok {
			states[st] = true
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, name)
		}
	}
	if len(req.StateFilters) > 0 && len(states) == 0 {
		return s.finish(&b)
	}
	pids := map[int64]bool{}
	for _, p := range req.ProducerIDFilters {
		pids[p] = true
	}
	duration := int64(-1)
	if req.Version >= 1 {
		duration = req.DurationFilterMillis
	}
	var pattern *regexp.Regexp
	if req.Version >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		p := *req.TransactionalIDPattern
		var err error
		if len(p) <= s.cfg.MaxIDPatternBytes {
			pattern, err = regexp.Compile(`^(?:` + p + `)$`)
		}
		if len(p) > s.cfg.MaxIDPatternBytes || err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return s.finish(&b)
		}
	}
	for _, id := range s.sortedIDs() {
		t := s.txns[id]
		m := &t.m
		switch {
		case len(states) > 0 && !states[m.State]:
			continue
		case len(pids) > 0 && !pids[m.ProducerID]:
			continue
		case duration >= 0 && (m.StartMs < 0 || nowMs-m.StartMs < duration):
			continue
		case pattern != nil && !pattern.MatchString(id):
			continue
		}
		b.reveal(t)
		ls := kmsg.NewListTransactionsResponseTransactionState()
		ls.TransactionalID, ls.ProducerID, ls.TransactionState = id, m.ProducerID, m.State.String()
		resp.TransactionStates = append(resp.TransactionStates, ls)
	}
	return s.finish(&b)
}
