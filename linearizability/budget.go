package linearizability

// DefaultStepBudget is a work budget per partition that the simulator's
// histories stay far below (see sim/doc.go for measured figures), yet that
// a search gone exponential exhausts in seconds.
const DefaultStepBudget = 20_000_000

// budget bounds one partition's search deterministically: every model step
// and every set of pending appends the model enumerates costs one unit,
// and the sum tables that prune that enumeration cost by their size
// (growth.go).
// Porcupine checks each partition on one goroutine, so a budget is only
// touched by that goroutine until the check returns.
type budget struct {
	// limit is the number of units allowed; 0 means unbounded.
	limit int64
	// used counts the units spent (past limit once exhausted).
	used int64
}

// spend charges one unit and reports whether the budget allowed it. A nil
// budget is unbounded.
func (b *budget) spend() bool { return b.spendN(1) }

// exhausted reports whether the search wanted more than the limit.
func (b *budget) exhausted() bool { return b != nil && b.limit > 0 && b.used > b.limit }

// spendN charges n units (n >= 1) and reports whether the budget allowed
// all of them.
func (b *budget) spendN(n int64) bool {
	if b == nil {
		return true
	}
	b.used += n
	return b.limit == 0 || b.used <= b.limit
}
