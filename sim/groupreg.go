package sim

// Porcupine on the group registers (groupcheck.go's "group-commit:"):
// every (group, partition) history of commits and fetches is checked
// against linearizability.CheckRegister's model, a register whose writes
// carry their fence (the generation a commit was sent with, and whether a
// later generation of the group had synced by then: fenced, so never
// applied) and whether the coordinator refused them (left out: no
// effect).
//
// The search is bounded by groupRegisterStepBudget units per register,
// never by wall time. A register past it is undecided: counted
// (group-register-undecided) and failed like an illegal one, as the
// partition-log check fails an undecided partition, so that a history too
// large to check is a finding to look at, not a silent pass. The
// fixed sweep's registers all stay under 100,000 units; the largest seen,
// a KIP-848 register of seed 506642026 (1,596 operations, 28 commits of
// unknown outcome whose offsets other commits also wrote), took
// 2,352,804, past the first budget of 2,000,000.
//
// judgeRegister, the direct rule, still runs on every register: it names
// the acknowledged commit and the fetch that contradict each other, which
// porcupine's verdict does not, and its judged reads are the coverage
// group-fetch-judged. Whatever it finds porcupine must find too; a
// register it fails and porcupine passes is counted
// (group-register-direct-only), a checker bug to look at.

import (
	"fmt"
	"path/filepath"

	lin "github.com/chronik-streaming/chronik/linearizability"
)

// groupRegisterStepBudget bounds porcupine's search of one register.
const groupRegisterStepBudget = 20_000_000

// linearize checks one register's history with porcupine and returns a
// finding, or "".
func (g *groupWorld) linearize(k groupKey, ops []*groupOp, topic *simTopic) string {
	w := g.w
	var rops []lin.RegisterOp
	clients := map[string]int{}
	judged := false
	for _, op := range ops {
		c, ok := clients[op.member]
		if !ok {
			c = len(clients)
			clients[op.member] = c
		}
		r := lin.RegisterOp{Client: c, Write: op.write, Value: op.value, Fenced: op.fenced, Fence: op.gen, Call: int64(op.call), Return: int64(op.ret)}
		switch {
		case op.write && op.refuse, op.write && op.fenced && !op.acked:
			continue // never applied
		case op.write && !op.acked:
			r.Return = -1 // unknown outcome
		case op.write:
			judged = judged || op.fenced
		case !op.acked || op.refuse:
			continue // no answer, or one that may be stale
		case topic != nil && topic.deleteCall != 0 && topic.deleteCall <= op.ret:
			continue // the coordinator may drop a deleted topic's offsets
		default:
			judged = true
		}
		rops = append(rops, r)
	}
	if !judged {
		return "" // no fetch, nor a fenced commit acknowledged
	}
	path := ""
	if g.vizDir != "" {
		path = filepath.Join(g.vizDir, fmt.Sprintf("chronik-sim-seed-%d-group-%s-%s.html", w.seed, k.group, k.tp))
	}
	res, err := lin.CheckRegister(rops, groupRegisterStepBudget, path)
	g.steps = max(g.steps, res.Steps)
	if err != nil {
		return fmt.Sprintf("register check error (a simulator bug): %v", err)
	}
	switch res.Verdict {
	case lin.VerdictIllegal:
		w.cover("group-register-illegal")
		msg := "not linearizable (porcupine)"
		if res.VisualizationPath != "" {
			msg += "; visualization: " + res.VisualizationPath
		}
		return msg
	case lin.VerdictUndecided:
		w.cover("group-register-undecided")
		return fmt.Sprintf("undecided: porcupine's search ran past its budget of %d steps", groupRegisterStepBudget)
	}
	w.cover("group-register-linearizable")
	return ""
}
