package linearizability

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/anishathalye/porcupine"
)

// This file holds the porcupine model of the cluster's topic set: the names
// that exist, as changed by CreateTopics and DeleteTopics and observed by
// listing them (Metadata with all topics). The metadata quorum's fault test
// checks hashicorp/raft with it, and a real-cluster test can record the
// same history through the Kafka API.

// DefaultTopicSetVisualizationName is the file name CheckTopicSet uses when
// Options.VisualizationName is empty.
const DefaultTopicSetVisualizationName = "topic-set-linearizability.html"

// TopicOpKind says what a topic-set client did.
type TopicOpKind uint8

const (
	// TopicCreate creates one topic; it fails if the topic exists.
	TopicCreate TopicOpKind = iota + 1
	// TopicDelete deletes one topic; it fails if the topic does not exist.
	TopicDelete
	// TopicList reads the whole set of topic names.
	TopicList
)

// String names the kind for messages.
func (k TopicOpKind) String() string {
	switch k {
	case TopicCreate:
		return "create"
	case TopicDelete:
		return "delete"
	case TopicList:
		return "list"
	}
	return "TopicOpKind(" + strconv.Itoa(int(k)) + ")"
}

// TopicResult is what a topic-set client learned about its operation.
type TopicResult uint8

const (
	// TopicOK means a create created the topic, a delete deleted it, or a
	// list returned Topics.
	TopicOK TopicResult = iota + 1
	// TopicExists means a create found the topic already there
	// (TOPIC_ALREADY_EXISTS) and changed nothing.
	TopicExists
	// TopicAbsent means a delete found no such topic
	// (UNKNOWN_TOPIC_OR_PARTITION) and changed nothing.
	TopicAbsent
	// TopicFailed means the operation definitely had no effect and taught
	// the client nothing: it was rejected before it reached the log (for
	// example NOT_CONTROLLER), or it was a list that failed. The checker
	// leaves such operations out.
	TopicFailed
	// TopicUnknown means the client cannot tell whether a create or delete
	// took effect (a timeout, a controller that lost leadership after
	// accepting it). It may take effect at any time after its call, even
	// after the client gave up, so the checker treats it as never
	// returning. A list with an unknown outcome constrains nothing; record
	// it as TopicFailed.
	TopicUnknown
)

// String names the result for messages.
func (r TopicResult) String() string {
	switch r {
	case TopicOK:
		return "ok"
	case TopicExists:
		return "exists"
	case TopicAbsent:
		return "absent"
	case TopicFailed:
		return "failed"
	case TopicUnknown:
		return "unknown"
	}
	return "TopicResult(" + strconv.Itoa(int(r)) + ")"
}

// TopicOp is one client operation on the topic set, from invocation to
// response.
type TopicOp struct {
	// Kind is what the client did.
	Kind TopicOpKind
	// Client identifies the client; porcupine's visualization draws one row
	// per id, so keep ids small and non-negative.
	Client int
	// Call is when the client invoked the operation.
	Call int64
	// Return is when the client saw the response, or gave up on it. For
	// TopicUnknown it is informational only: the checker treats the
	// operation as never returning.
	Return int64
	// Topic is the name a create or delete addressed. Names must not
	// contain a NUL byte.
	Topic string
	// Result is what the client learned.
	Result TopicResult
	// Topics are, for an ok list, the names returned, in any order.
	Topics []string
}

// String renders the operation for messages and the visualization, without
// its times and client.
func (op TopicOp) String() string {
	switch op.Kind {
	case TopicCreate, TopicDelete:
		return fmt.Sprintf("%s %s -> %s", op.Kind, quoteValue(op.Topic), op.Result)
	case TopicList:
		if op.Result != TopicOK {
			return "list -> " + op.Result.String()
		}
		var b strings.Builder
		b.WriteString("list -> ")
		writeValues(&b, sortedTopics(op.Topics))
		return b.String()
	}
	return op.Kind.String()
}

// ValidateTopicHistory reports the first malformed operation in history,
// wrapping ErrInvalidHistory.
func ValidateTopicHistory(history []TopicOp) error {
	for i, op := range history {
		if err := validateTopicOp(op); err != nil {
			return fmt.Errorf("%w: topic op #%d (client %d, %s): %w", ErrInvalidHistory, i, op.Client, op, err)
		}
	}
	return nil
}

// validateTopicOp checks one operation in isolation.
func validateTopicOp(op TopicOp) error {
	if op.Client < 0 {
		return errors.New("negative client id")
	}
	if op.Return < op.Call {
		return fmt.Errorf("returned at %d before its call at %d", op.Return, op.Call)
	}
	switch op.Kind {
	case TopicCreate, TopicDelete:
		if op.Topic == "" || strings.ContainsRune(op.Topic, 0) {
			return fmt.Errorf("topic name %q is empty or contains NUL", op.Topic)
		}
		allowed := []TopicResult{TopicOK, TopicFailed, TopicUnknown, TopicExists}
		if op.Kind == TopicDelete {
			allowed[3] = TopicAbsent
		}
		if !slices.Contains(allowed, op.Result) {
			return fmt.Errorf("result %s is not valid for a %s", op.Result, op.Kind)
		}
		if len(op.Topics) > 0 {
			return fmt.Errorf("%s carries a topic list", op.Kind)
		}
	case TopicList:
		if op.Topic != "" {
			return errors.New("list names a topic")
		}
		if op.Result != TopicOK && op.Result != TopicFailed {
			return fmt.Errorf("result %s is not valid for a list", op.Result)
		}
		if op.Result != TopicOK && len(op.Topics) > 0 {
			return fmt.Errorf("%s list carries topics", op.Result)
		}
		sorted := sortedTopics(op.Topics)
		for i, name := range sorted {
			if name == "" || strings.ContainsRune(name, 0) {
				return fmt.Errorf("listed topic name %q is empty or contains NUL", name)
			}
			if i > 0 && sorted[i-1] == name {
				return fmt.Errorf("topic %s listed twice", quoteValue(name))
			}
		}
	default:
		return fmt.Errorf("unknown topic op kind %d", op.Kind)
	}
	return nil
}

// topicSetState is the model's state: the sorted topic names joined by NUL
// bytes. A string compares with == and hashes cheaply, which is what
// porcupine's cache does most; the sets in a test are small, so splitting
// it on every step costs little.
type topicSetState string

// names returns the topics in the state, sorted.
func (s topicSetState) names() []string {
	if s == "" {
		return nil
	}
	return strings.Split(string(s), "\x00")
}

// has reports whether topic is in the set.
func (s topicSetState) has(topic string) bool {
	_, found := slices.BinarySearch(s.names(), topic)
	return found
}

// with returns the set plus topic.
func (s topicSetState) with(topic string) topicSetState {
	names := s.names()
	i, found := slices.BinarySearch(names, topic)
	if found {
		return s
	}
	return topicSetState(strings.Join(slices.Insert(names, i, topic), "\x00"))
}

// without returns the set minus topic.
func (s topicSetState) without(topic string) topicSetState {
	names := s.names()
	i, found := slices.BinarySearch(names, topic)
	if !found {
		return s
	}
	return topicSetState(strings.Join(slices.Delete(names, i, i+1), "\x00"))
}

// sortedTopics returns a sorted copy of names.
func sortedTopics(names []string) []string {
	return slices.Sorted(slices.Values(names))
}

// TopicSetModel returns the porcupine model of the topic set. Its
// operations must come from TopicSetOperations. The state is the set of
// existing names, initially empty; at an operation's linearization point:
//
//   - create X ok: legal iff X is absent; X is added.
//   - create X exists: legal iff X is present; no change.
//   - delete X ok: legal iff X is present; X is removed.
//   - delete X absent: legal iff X is absent; no change.
//   - create or delete X with an unknown outcome: always legal, and it has
//     whichever effect the state dictates (a create of a present topic does
//     nothing, as the real command would). Its return is at infinity, so
//     porcupine may also place it after everything else, which is the
//     same as never applying it.
//   - list ok: legal iff the names returned are exactly the set.
//
// Reads see the whole set, so the history is checked as one partition:
// splitting it per topic would stop catching a list that is a mix of two
// moments.
func TopicSetModel() porcupine.Model {
	return porcupine.Model{
		Init: func() any { return topicSetState("") },
		Step: func(state, input, _ any) (bool, any) {
			return topicStep(state.(topicSetState), input.(TopicOp))
		},
		Hash: func(state any) uint64 {
			h := fnv.New64a()
			h.Write([]byte(state.(topicSetState)))
			return h.Sum64()
		},
		DescribeOperation: func(input, _ any) string {
			return input.(TopicOp).String()
		},
		DescribeState: func(state any) string {
			var b strings.Builder
			writeValues(&b, state.(topicSetState).names())
			return b.String()
		},
		DescribeOperationMetadata: func(meta any) string {
			if i, ok := meta.(int); ok {
				return fmt.Sprintf("op #%d", i)
			}
			return ""
		},
	}
}

// topicStep applies the rules documented on TopicSetModel.
func topicStep(s topicSetState, op TopicOp) (bool, topicSetState) {
	switch op.Kind {
	case TopicCreate:
		switch op.Result {
		case TopicOK:
			return !s.has(op.Topic), s.with(op.Topic)
		case TopicExists:
			return s.has(op.Topic), s
		case TopicUnknown:
			return true, s.with(op.Topic)
		}
	case TopicDelete:
		switch op.Result {
		case TopicOK:
			return s.has(op.Topic), s.without(op.Topic)
		case TopicAbsent:
			return !s.has(op.Topic), s
		case TopicUnknown:
			return true, s.without(op.Topic)
		}
	case TopicList:
		if op.Result == TopicOK {
			return slices.Equal(s.names(), sortedTopics(op.Topics)), s
		}
	}
	return false, s
}

// TopicSetOperations converts a history into porcupine operations for
// TopicSetModel, each with its history index as Metadata. Failed operations
// are left out (they had no effect and returned nothing), and operations
// with an unknown outcome get a return time of math.MaxInt64: they are
// pending forever, the usual porcupine encoding of "may take effect at any
// time after the call, or never".
func TopicSetOperations(history []TopicOp) []porcupine.Operation {
	ops := make([]porcupine.Operation, 0, len(history))
	for i, op := range history {
		ret := op.Return
		switch op.Result {
		case TopicFailed:
			continue
		case TopicUnknown:
			ret = math.MaxInt64
		}
		ops = append(ops, porcupine.Operation{
			ClientId: op.Client,
			Input:    op,
			Call:     op.Call,
			Return:   ret,
			Metadata: i,
		})
	}
	return ops
}

// TopicSetResult is what CheckTopicSet found.
type TopicSetResult struct {
	// Verdict is porcupine's answer.
	Verdict Verdict
	// VisualizationPath is the HTML file written for an illegal history, or
	// empty.
	VisualizationPath string
}

// String summarizes the result in one line.
func (r TopicSetResult) String() string {
	s := "topic set linearizability: " + r.Verdict.String()
	if r.VisualizationPath != "" {
		s += "; visualization: " + r.VisualizationPath
	}
	return s
}

// CheckTopicSet validates history and checks it against TopicSetModel with
// porcupine. It uses opts.Timeout and the visualization fields (opts.Model
// is for partition logs and is ignored); an empty VisualizationName means
// DefaultTopicSetVisualizationName. It returns an error for an invalid
// history or a failed write; the verdict is still filled in when only the
// write failed.
func CheckTopicSet(history []TopicOp, opts Options) (TopicSetResult, error) {
	if err := ValidateTopicHistory(history); err != nil {
		return TopicSetResult{}, err
	}
	model := TopicSetModel()
	res, info := porcupine.CheckOperationsVerbose(model, TopicSetOperations(history), opts.Timeout)
	var out TopicSetResult
	switch res {
	case porcupine.Ok:
		out.Verdict = VerdictOK
	case porcupine.Illegal:
		out.Verdict = VerdictIllegal
	default:
		out.Verdict = VerdictUnknown
	}
	if out.Verdict == VerdictIllegal && opts.VisualizationDir != "" {
		if opts.VisualizationName == "" {
			opts.VisualizationName = DefaultTopicSetVisualizationName
		}
		path, err := writeVisualization(model, info, opts)
		if err != nil {
			return out, err
		}
		out.VisualizationPath = path
	}
	return out, nil
}
