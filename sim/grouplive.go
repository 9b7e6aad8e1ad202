package sim

// Group liveness in the quiet windows (quiet.go), with the failure prefix
// "group-live:": once a window healed every fault, every group with live
// members must, within groupLiveBound of the heal, reach a stable
// generation, every live member synced to it, and consume in it: a
// commit sent with that generation acknowledged after every live member
// synced it (a group whose members own no partition of a live topic, its
// topics deleted, is stable once synced). A member is live unless it is stalled or
// between a LeaveGroup and its next join (groups.go), or has never
// joined; a stall or a leave in the window is a rebalance the workload
// asked for, so it starts the group's bound again from that moment. A
// window lasts, past its nominal end, until every group it judges is
// settled (quietEnd asks liveWaiting), so the bound, not the window's
// drawn length, decides. Groups whose __consumer_offsets partition lost
// its last good copy (a media flip, quarantine) are not judged.
//
// Coverage: group-live-stable (a group judged stable and consuming),
// group-live-waited (a window held past its end for a group).

import (
	"fmt"
	"slices"
	"strings"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// groupLive is one group's judgement in the current window.
type groupLive struct {
	// since is the heal, or the last leave or stall; deadline is since
	// plus the bound.
	since, deadline Time
	done            bool
}

// groupLiveBound is how long a group may take, after the heal (or after a
// leave or stall in the window), to be stable and consuming. Its parts,
// from the sim's broker and member settings:
//
//   - quietSettle: nodes restart, partitions of __consumer_offsets get
//     leaders, registrations and followers catch up, a coordinator loads
//     (the settle the acks=all probes get);
//   - session + request timeout (rebalanceWait): a member may be waiting
//     for an answer on a connection to a node that lost power before the
//     heal, and gives up only at its timeout (a JoinGroup's or
//     SyncGroup's is the longest);
//   - 2 x session (the members' rebalance timeout is their session
//     timeout): a join phase waits up to the rebalance timeout for members
//     that do not rejoin (a silent one, a pending member id), and a sync
//     phase as long for a member that does not sync, before the
//     coordinator removes them and rebalances once more;
//   - a heartbeat interval, for a member to hear of a rebalance;
//   - 4 x the client backoff (finding the coordinator, retrying a load in
//     progress) and a second of slack for commits to come round (a member
//     commits within a think time or half a heartbeat interval).
func (w *world) groupLiveBound() Time {
	g := w.set.Groups
	session := Time(g.SessionTimeoutMs) * Millisecond
	return quietSettle + session + w.set.Work.RequestTimeout + 2*session +
		Time(g.HeartbeatMs)*Millisecond + 4*w.set.Work.Backoff + Second
}

// liveBegin starts judging every group at a window's heal.
func (g *groupWorld) liveBegin() {
	w := g.w
	g.live = map[string]*groupLive{}
	for _, m := range g.members {
		if g.live[m.group] == nil {
			g.live[m.group] = &groupLive{since: w.s.now, deadline: w.s.now + w.groupLiveBound()}
		}
	}
}

// liveDisrupted hears that member m stalls or leaves (a rebalance the
// workload asked for): its group's bound starts again.
func (g *groupWorld) liveDisrupted(m *groupMember) {
	if l := g.live[m.group]; l != nil && !l.done {
		l.since, l.deadline = g.w.s.now, max(l.deadline, g.w.s.now+g.w.groupLiveBound())
	}
}

// liveCommitted hears that a commit of m's group sent with generation gen
// was acknowledged, and settles the group if it is stable in gen.
func (g *groupWorld) liveCommitted(m *groupMember, gen int32) {
	if l := g.live[m.group]; l != nil && !l.done && g.w.q.on && g.stableIn(m.group, gen) {
		g.liveSettled(m.group, l)
	}
}

// liveSynced hears that member m synced: a group whose members own no
// partition is settled once stable.
func (g *groupWorld) liveSynced(m *groupMember) {
	l := g.live[m.group]
	if l == nil || l.done || !g.w.q.on || !g.stableIn(m.group, m.syncedGen) {
		return
	}
	for _, o := range g.members {
		if o.group == m.group && o.ownsReadable() {
			return // a commit will tell
		}
	}
	g.liveSettled(m.group, l)
}

// ownsReadable reports whether m owns a partition of a live topic, one it
// can read and commit. A deleted topic's partitions cannot be; the
// workload's leader, like a client with older metadata, may still assign
// them until the next rebalance.
func (m *groupMember) ownsReadable() bool {
	for _, tp := range m.owned {
		if t := m.w.reg.byName[tp.Topic]; t != nil && t.status == topicLive {
			return true
		}
	}
	return false
}

// stableUnreadable reports whether group is stable in its live members'
// generation with nothing any of them can read: settled without a commit.
func (g *groupWorld) stableUnreadable(group string) bool {
	gen := int32(-1)
	for _, m := range g.members {
		if m.group == group && m.live() {
			if m.ownsReadable() {
				return false
			}
			gen = m.syncedGen
		}
	}
	return gen > 0 && g.stableIn(group, gen)
}

// liveSettled marks group stable and consuming.
func (g *groupWorld) liveSettled(group string, l *groupLive) {
	l.done = true
	g.w.cover("group-live-stable")
	g.w.logf("group-live: group %s stable and consuming %s after the heal (or its last leave or stall)", group, fmtTime(g.w.s.now-l.since))
}

// stableIn reports whether every live member of group has synced gen (and
// at least one is live).
func (g *groupWorld) stableIn(group string, gen int32) bool {
	live := 0
	for _, m := range g.members {
		if m.group != group || !m.live() {
			continue
		}
		if m.syncedGen != gen {
			return false
		}
		live++
	}
	return live > 0
}

// live reports whether the member takes part in its group: joined once,
// and neither stalled nor gone after a LeaveGroup.
func (m *groupMember) live() bool { return m.topics != nil && !m.away }

// liveWaiting reports whether the window must go on for a group not yet
// settled within its bound; a group past its bound is a finding.
func (g *groupWorld) liveWaiting() bool {
	w := g.w
	waiting := false
	for _, grp := range g.liveGroups() {
		l := g.live[grp]
		switch {
		case l.done:
		case g.liveExcused(grp):
			l.done = true
		case w.q.on && g.stableUnreadable(grp):
			g.liveSettled(grp, l)
		case w.s.now < l.deadline:
			waiting = true
		default:
			l.done = true
			w.fail("group-live: group %s: no stable generation consuming within %s of the quiet window's heal (or its last leave or stall): %s",
				grp, fmtTime(w.groupLiveBound()), g.describe(grp))
		}
	}
	if waiting {
		w.cover("group-live-waited")
	}
	return waiting
}

// liveGroups lists the judged groups in name order.
func (g *groupWorld) liveGroups() []string {
	var out []string
	for grp := range g.live {
		out = append(out, grp)
	}
	slices.Sort(out)
	return out
}

// liveExcused reports whether group is not judged: no live member, or its
// offsets partition has no good copy to lead from.
func (g *groupWorld) liveExcused(group string) bool {
	w := g.w
	if _, q := g.quarantined(group); q {
		return true
	}
	p := g.partition(group)
	if p < 0 {
		return true // never created: no member got that far
	}
	tp := lin.TopicPartition{Topic: offsetsTopic, Partition: p}
	for _, f := range w.mediaFlips {
		if f.tp == tp {
			return true
		}
	}
	if w.uncertainLastCopy(tp) {
		return true
	}
	for _, m := range g.members {
		if m.group == group && m.live() {
			return false
		}
	}
	return true
}

// describe renders the members of group for a finding.
func (g *groupWorld) describe(group string) string {
	var parts []string
	for _, m := range g.members {
		if m.group != group {
			continue
		}
		state := fmt.Sprintf("synced generation %d, owns %d", m.syncedGen, len(m.owned))
		if d := m.dv; d != nil {
			// Where its reader stands: a member that cannot read
			// commits nothing.
			var reads []string
			for _, tp := range m.owned {
				if at, ok := d.read[tp]; ok {
					reads = append(reads, fmt.Sprintf("%s@%d", tp, at))
				} else {
					reads = append(reads, fmt.Sprintf("%s@?", tp))
				}
			}
			state += fmt.Sprintf(", reading [%s], fetch in flight %v", strings.Join(reads, " "), d.k.busy)
		}
		if !m.live() {
			state = "not live"
		}
		parts = append(parts, fmt.Sprintf("%s (coordinator %d, %s)", m.c.name, m.coord, state))
	}
	return strings.Join(parts, "; ")
}
