package group

import "sort"

// assign computes a KIP-848 target assignment: member id -> sorted
// partitions of the topics it subscribes to. Every partition of a
// subscribed topic goes to exactly one subscriber. It is deterministic:
// members come sorted by id and topics are taken in name order.
func assign(name string, members []*cmember, topics map[string]TopicMeta, old map[string][]tidp) map[string][]tidp {
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	subs := map[string][]*cmember{}
	for _, m := range members {
		for _, t := range m.subscribed() {
			if _, ok := topics[t]; ok {
				subs[t] = append(subs[t], m)
			}
		}
	}
	out := map[string][]tidp{}
	if name == AssignorRange {
		for _, t := range names {
			ms, tm := subs[t], topics[t]
			if len(ms) == 0 {
				continue
			}
			per, extra := int(tm.Partitions)/len(ms), int(tm.Partitions)%len(ms)
			p := int32(0)
			for i, m := range ms {
				n := per
				if i < extra {
					n++
				}
				for j := 0; j < n; j++ {
					out[m.id] = append(out[m.id], tidp{tm.ID, p})
					p++
				}
			}
		}
	} else {
		assignUniform(names, subs, topics, old, out)
	}
	for id, ps := range out {
		out[id] = normalize(ps)
	}
	return out
}

// assignUniform balances the partition counts, keeping partitions with
// their previous owner up to an even share (sticky, so that a rebalance
// moves few partitions), then giving the rest to the least loaded
// subscriber (ties to the smaller member id).
func assignUniform(names []string, subs map[string][]*cmember, topics map[string]TopicMeta, old map[string][]tidp, out map[string][]tidp) {
	prev := map[tidp]string{}
	for id, ps := range old {
		for _, p := range ps {
			prev[p] = id
		}
	}
	total := 0
	active := map[string]bool{}
	for _, t := range names {
		if len(subs[t]) > 0 {
			total += int(topics[t].Partitions)
			for _, m := range subs[t] {
				active[m.id] = true
			}
		}
	}
	if len(active) == 0 {
		return
	}
	// An even share is quota partitions, and total%members of them may
	// keep one more.
	quota := total / len(active)
	extra := total % len(active)
	count := map[string]int{}
	mayKeep := func(id string) bool {
		switch {
		case count[id] < quota:
			return true
		case count[id] == quota && extra > 0:
			extra--
			return true
		}
		return false
	}
	var rest []struct {
		p    tidp
		subs []*cmember
	}
	for _, t := range names {
		ms, tm := subs[t], topics[t]
		if len(ms) == 0 {
			continue
		}
		for p := int32(0); p < tm.Partitions; p++ {
			tp := tidp{tm.ID, p}
			kept := false
			if owner, ok := prev[tp]; ok {
				for _, m := range ms {
					if m.id == owner && mayKeep(owner) {
						out[owner] = append(out[owner], tp)
						count[owner]++
						kept = true
						break
					}
				}
			}
			if !kept {
				rest = append(rest, struct {
					p    tidp
					subs []*cmember
				}{tp, ms})
			}
		}
	}
	for _, r := range rest {
		best := r.subs[0]
		for _, m := range r.subs[1:] {
			if count[m.id] < count[best.id] {
				best = m
			}
		}
		out[best.id] = append(out[best.id], r.p)
		count[best.id]++
	}
}
