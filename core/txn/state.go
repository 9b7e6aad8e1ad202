package txn

// State is a transaction's state, numbered as Kafka's TransactionState in
// __transaction_state records.
type State int8

// Kafka's transaction states.
const (
	Empty             State = 0
	Ongoing           State = 1
	PrepareCommit     State = 2
	PrepareAbort      State = 3
	CompleteCommit    State = 4
	CompleteAbort     State = 5
	Dead              State = 6
	PrepareEpochFence State = 7
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead", "PrepareEpochFence"}

// String is Kafka's name of the state, as DescribeTransactions and
// ListTransactions show it.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "Unknown"
	}
	return stateNames[s]
}

// valid reports whether s is one of Kafka's states.
func (s State) valid() bool { return s >= 0 && int(s) < len(stateNames) }

// stateByName returns the state Kafka names name.
func stateByName(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// expirable reports whether a transactional id in s may expire (Kafka's
// isExpirationAllowed): no transaction is open.
func (s State) expirable() bool {
	return s == Empty || s == CompleteCommit || s == CompleteAbort
}

// preparing reports whether s waits for its markers.
func (s State) preparing() bool { return s == PrepareCommit || s == PrepareAbort }

// validPrevious lists, per target state, the states it may be entered
// from: Kafka's TransactionState.validPreviousStates. PrepareAbort from
// Empty and the Complete states is transaction version 2 only (an abort
// without a transaction); Chronik's version-1 coordinator never takes it.
var validPrevious = [...][]State{
	Empty:             {Empty, CompleteCommit, CompleteAbort},
	Ongoing:           {Ongoing, Empty, CompleteCommit, CompleteAbort},
	PrepareCommit:     {Ongoing},
	PrepareAbort:      {Ongoing, PrepareEpochFence, Empty, CompleteCommit, CompleteAbort},
	CompleteCommit:    {PrepareCommit},
	CompleteAbort:     {PrepareAbort},
	Dead:              {Empty, CompleteAbort, CompleteCommit},
	PrepareEpochFence: {Ongoing},
}

// legalTransition reports whether Kafka allows a move from one state to
// another.
func legalTransition(from, to State) bool {
	if !to.valid() {
		return false
	}
	for _, s := range validPrevious[to] {
		if s == from {
			return true
		}
	}
	return false
}
