package linearizability

import (
	"context"
	"fmt"
	"strings"

	"github.com/anishathalye/porcupine"
)

// stateSet is the state porcupine sees: every partitionState the model
// may be in (the power-set construction of porcupine.NondeterministicModel,
// done here with hashing). NondeterministicModel merges successor states
// by comparing each with every other, and compares sets the same way, so a
// step with many successors took time quadratic in them, out of reach of
// any budget; here both are linear in the states and every state costs a
// unit of the partition's step budget.
type stateSet struct {
	states []partitionState
	// hashes[i] is states[i].hash().
	hashes []uint64
	// hash combines hashes independently of their order.
	hash uint64
}

// add puts s into the set unless an equal state is there; index maps a
// state hash to positions in states.
func (set *stateSet) add(index map[uint64][]int, s partitionState) {
	h := s.hash()
	for _, i := range index[h] {
		if set.states[i].equal(s) {
			return
		}
	}
	index[h] = append(index[h], len(set.states))
	set.states = append(set.states, s)
	set.hashes = append(set.hashes, h)
	set.hash += mix64(h)
}

// equal reports whether two sets (each free of duplicates) hold the same
// states.
func (set *stateSet) equal(o *stateSet) bool {
	if len(set.states) != len(o.states) || set.hash != o.hash {
		return false
	}
	index := make(map[uint64][]int, len(o.states))
	for i, h := range o.hashes {
		index[h] = append(index[h], i)
	}
	for i, s := range set.states {
		found := false
		for _, j := range index[set.hashes[i]] {
			if o.states[j].equal(s) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// powersetModel turns the nondeterministic step into porcupine's
// deterministic Model over stateSets.
func powersetModel(opts ModelOptions) porcupine.Model {
	stepSet := func(ctx context.Context, state, input, _ any) (bool, any) {
		set, in := state.(*stateSet), input.(*modelInput)
		next := &stateSet{}
		index := make(map[uint64][]int)
		for _, s := range set.states {
			for _, g := range step(ctx, opts, s, in) {
				if !in.budget.spend() {
					return false, nil
				}
				next.add(index, g.(partitionState))
			}
		}
		if len(next.states) > maxStates {
			next = next.collapse()
		}
		return len(next.states) > 0, next
	}
	return porcupine.Model{
		Partition: partitionOperations,
		Init: func() any {
			set := &stateSet{}
			set.add(map[uint64][]int{}, partitionState{})
			return set
		},
		Step: func(state, input, output any) (bool, any) {
			return stepSet(context.Background(), state, input, output)
		},
		StepContext: stepSet,
		Equal: func(a, b any) bool {
			return a.(*stateSet).equal(b.(*stateSet))
		},
		Hash: func(s any) uint64 {
			return s.(*stateSet).hash
		},
		DescribeOperation: func(input, _ any) string {
			return input.(*modelInput).String()
		},
		DescribeState: func(s any) string {
			set := s.(*stateSet)
			parts := make([]string, len(set.states))
			for i, st := range set.states {
				parts[i] = st.String()
			}
			return "{" + strings.Join(parts, ", ") + "}"
		},
		DescribeOperationMetadata: func(meta any) string {
			if i, ok := meta.(int); ok {
				return fmt.Sprintf("op #%d", i)
			}
			return ""
		},
	}
}

// maxStates bounds a state set. Successor states multiply with every step
// that must choose which unread unknown appends fill a gap (each choice
// leaves a different pending set); past the bound, collapse merges them.
const maxStates = 64

// collapse returns the set with the states that hold the same log merged
// into one whose pending set is the union of theirs (each length as often
// as the state that has it most often). The merged state can do whatever
// each of them could, so no legal history is rejected; like choose's
// fallback, it may let one unread append's length count twice.
func (set *stateSet) collapse() *stateSet {
	var merged []partitionState
	byLog := make(map[uint64][]int)
	for _, s := range set.states {
		h := s.log.hash()
		found := false
		for _, i := range byLog[h] {
			if merged[i].log.equal(s.log) {
				merged[i].pending = unionLengths(merged[i].pending, s.pending)
				found = true
				break
			}
		}
		if !found {
			byLog[h] = append(byLog[h], len(merged))
			merged = append(merged, s)
		}
	}
	out := &stateSet{}
	index := make(map[uint64][]int, len(merged))
	for _, s := range merged {
		out.add(index, s)
	}
	return out
}

// unionLengths merges two sorted multisets of lengths, keeping each length
// as often as the one that has it more often.
func unionLengths(a, b []int) []int {
	out := make([]int, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}
