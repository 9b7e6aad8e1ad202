package linearizability

// This file holds the porcupine model of a consumer group's committed
// offset of one partition: a register whose writes (OffsetCommit) are
// fenced by the group's generation or the member's epoch.
//
//   - A read (OffsetFetch) returns the register's value, -1 when nothing
//     was committed.
//   - A write that was not fenced sets the value. Acknowledged, it took
//     effect between its call and its answer; with an unknown outcome (a
//     timeout, NOT_COORDINATOR from a runtime that discarded the write,
//     which may still commit) it is pending forever, the usual porcupine
//     encoding of "took effect at some point, or never": linearized at the
//     end it is never observed. Writes refused for certain
//     (ILLEGAL_GENERATION, ...) have no effect and are left out by the
//     caller.
//   - A fenced write (its fence older than one the group had committed
//     when it was sent) never takes effect: acknowledged, the history is
//     illegal; otherwise it leaves the value alone.
//
// The search is bounded by a step budget per register (every model step
// costs one unit), so its answer depends only on the history, never on
// machine speed: a register that needs more is undecided, which the
// caller must treat as "not checked", never as a pass.

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/anishathalye/porcupine"
)

// RegisterOp is one commit or fetch of a committed-offset register.
type RegisterOp struct {
	// Client draws the row in the visualization.
	Client int
	// Write is a commit; otherwise a fetch.
	Write bool
	// Value is what a commit wrote or a fetch returned (-1: nothing
	// committed).
	Value int64
	// Fenced marks a commit the coordinator must refuse.
	Fenced bool
	// Fence is the commit's generation or member epoch (for the
	// visualization).
	Fence int32
	// Call is when the request was sent; Return when its answer arrived,
	// or -1 for a commit of unknown outcome (a fetch always has one).
	Call, Return int64
}

// RegisterResult is what CheckRegister found.
type RegisterResult struct {
	// Verdict is VerdictOK, VerdictIllegal or VerdictUndecided (the step
	// budget ran out before an answer).
	Verdict Verdict
	// Steps is the number of budget units the search used.
	Steps int64
	// VisualizationPath is the HTML written for an illegal history, or "".
	VisualizationPath string
}

// registerInput is a RegisterOp as porcupine's input and output.
type registerInput struct{ op RegisterOp }

// registerModel returns the model, charging every step to b.
func registerModel(b *budget) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return int64(-1) },
		Step: func(state, input, _ any) (bool, any) {
			if !b.spend() {
				return false, state // out of budget: no successor (undecided)
			}
			v := state.(int64)
			op := input.(*registerInput).op
			switch {
			case !op.Write:
				return op.Value == v, v
			case op.Fenced:
				// Never applied: an acknowledgement is a lie.
				return op.Return < 0, v
			default:
				return true, op.Value
			}
		},
		Equal: func(a, b any) bool { return a.(int64) == b.(int64) },
		DescribeOperation: func(input, _ any) string {
			op := input.(*registerInput).op
			switch {
			case !op.Write:
				return fmt.Sprintf("fetch -> %d", op.Value)
			case op.Fenced:
				return fmt.Sprintf("commit %d (fenced, gen %d)", op.Value, op.Fence)
			case op.Return < 0:
				return fmt.Sprintf("commit %d (gen %d, unknown)", op.Value, op.Fence)
			}
			return fmt.Sprintf("commit %d (gen %d)", op.Value, op.Fence)
		},
		DescribeState: func(state any) string { return fmt.Sprint(state.(int64)) },
	}
}

// CheckRegister checks one register's history with porcupine, within
// stepBudget units (0: unbounded). visualization, when not "", is the
// file an illegal history's HTML goes to (its directory is created).
func CheckRegister(ops []RegisterOp, stepBudget int64, visualization string) (RegisterResult, error) {
	b := &budget{limit: stepBudget}
	model := registerModel(b)
	read := map[int64]bool{} // values some fetch returned
	for _, op := range ops {
		if !op.Write {
			read[op.Value] = true
		}
	}
	pops := make([]porcupine.Operation, 0, len(ops))
	for i, op := range ops {
		if op.Write && op.Return < 0 && !read[op.Value] {
			// A write of unknown outcome whose value no fetch returned
			// changes no verdict, and each one left in multiplies the
			// search: in a linearization that applies it, no fetch can
			// come between it and the next write (it would return its
			// value), so dropping it leaves a linearization of the
			// rest; and "never took effect" is one of its outcomes.
			continue
		}
		if op.Return >= 0 && op.Return < op.Call {
			return RegisterResult{}, fmt.Errorf("linearizability: register op %d returns at %d before its call at %d", i, op.Return, op.Call)
		}
		if !op.Write && op.Return < 0 {
			return RegisterResult{}, fmt.Errorf("linearizability: register op %d: a fetch without an answer", i)
		}
		ret := op.Return
		if ret < 0 {
			ret = math.MaxInt64
		}
		in := &registerInput{op: op}
		pops = append(pops, porcupine.Operation{ClientId: op.Client, Input: in, Call: op.Call, Output: in, Return: ret})
	}
	res, info := porcupine.CheckOperationsVerbose(model, pops, 0)
	out := RegisterResult{Verdict: VerdictOK, Steps: b.used}
	if res != porcupine.Ok {
		out.Verdict = VerdictIllegal
		if b.exhausted() {
			out.Verdict = VerdictUndecided
		}
	}
	if out.Verdict == VerdictIllegal && visualization != "" {
		if err := os.MkdirAll(filepath.Dir(visualization), 0o755); err != nil {
			return out, fmt.Errorf("linearizability: create visualization dir: %w", err)
		}
		if err := porcupine.VisualizePath(model, info, visualization); err != nil {
			return out, fmt.Errorf("linearizability: write visualization %s: %w", visualization, err)
		}
		out.VisualizationPath = visualization
	}
	return out, nil
}
