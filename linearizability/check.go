package linearizability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdict is the linearizability checker's answer.
type Verdict uint8

const (
	// VerdictOK means every partition's history is linearizable.
	VerdictOK Verdict = iota + 1
	// VerdictIllegal means at least one partition's history is not.
	VerdictIllegal
	// VerdictUnknown means the time budget ran out before an answer.
	VerdictUnknown
	// VerdictUndecided means no partition is illegal but at least one
	// exhausted its step budget (Options.StepBudget) before an answer. It
	// depends only on the history and the budget, never on machine speed.
	VerdictUndecided
)

// String names the verdict.
func (v Verdict) String() string {
	switch v {
	case VerdictOK:
		return "ok"
	case VerdictIllegal:
		return "illegal"
	case VerdictUnknown:
		return "unknown"
	case VerdictUndecided:
		return "undecided"
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// DefaultVisualizationName is the file name used when
// Options.VisualizationName is empty.
const DefaultVisualizationName = "partition-log-linearizability.html"

// Options configure CheckLinearizability and Check.
type Options struct {
	// Model tunes what the partition-log model accepts.
	Model ModelOptions
	// Timeout bounds porcupine's search, measured by porcupine on the wall
	// clock; zero means no bound. When it expires the verdict is
	// VerdictUnknown (unless a partition was already found illegal). The
	// answer then depends on machine speed: prefer StepBudget.
	Timeout time.Duration
	// StepBudget bounds each partition's search deterministically: every
	// model step and every set of pending appends the model tries costs one
	// unit, and the sum tables that prune those sets cost one per 64 words
	// (DefaultStepBudget is a sensible bound). A partition that needs
	// more is undecided (VerdictUndecided unless another is illegal). Zero
	// means unbounded. CheckTopicSet ignores it.
	StepBudget int64
	// VisualizationDir, if set, is where an HTML visualization of an illegal
	// history is written (created if missing). Empty means none.
	VisualizationDir string
	// VisualizationName is the file name inside VisualizationDir; empty
	// means DefaultVisualizationName. The simulator puts the seed in it so
	// that seeds do not overwrite each other.
	VisualizationName string
}

// LinearizabilityResult is what CheckLinearizability found.
type LinearizabilityResult struct {
	// Verdict is the overall answer.
	Verdict Verdict
	// Unlinearized lists, in partition order, the partitions for which
	// porcupine found no complete linearization: the illegal ones, plus,
	// when the timeout expired, any it had not finished.
	Unlinearized []TopicPartition
	// Undecided lists, in partition order, the partitions of Unlinearized
	// that ran out of StepBudget: not found illegal.
	Undecided []TopicPartition
	// Steps is the largest number of budget units one partition used.
	Steps int64
	// VisualizationPath is the HTML file written for an illegal history, or
	// empty.
	VisualizationPath string
}

// String summarizes the result in one line.
func (r LinearizabilityResult) String() string {
	var b strings.Builder
	b.WriteString("linearizability: " + r.Verdict.String())
	if len(r.Unlinearized) > 0 {
		b.WriteString(" (not linearized: " + joinPartitions(r.Unlinearized) + ")")
	}
	if len(r.Undecided) > 0 {
		b.WriteString(" (step budget exhausted: " + joinPartitions(r.Undecided) + ")")
	}
	if r.VisualizationPath != "" {
		b.WriteString("; visualization: " + r.VisualizationPath)
	}
	return b.String()
}

// joinPartitions lists partitions as "t-0, t-1".
func joinPartitions(tps []TopicPartition) string {
	names := make([]string, len(tps))
	for i, tp := range tps {
		names[i] = tp.String()
	}
	return strings.Join(names, ", ")
}

// CheckLinearizability validates history and checks every partition against
// PartitionLogModel with porcupine. On VerdictIllegal, if
// opts.VisualizationDir is set, it writes porcupine's HTML visualization
// there and returns its path. It returns an error for an invalid history or
// a failed write; the verdict is still filled in when only the write failed.
func CheckLinearizability(history []Op, opts Options) (LinearizabilityResult, error) {
	h, err := NewValidHistory(history)
	if err != nil {
		return LinearizabilityResult{}, err
	}
	return h.CheckLinearizability(opts)
}

// CheckLinearizability is the package's CheckLinearizability on a
// validated history.
func (h ValidHistory) CheckLinearizability(opts Options) (LinearizabilityResult, error) {
	history := h.ops
	model := PartitionLogModel(opts.Model)
	budgets := make(map[TopicPartition]*budget)
	ops := operations(history, opts.Model, func(tp TopicPartition) *budget {
		// Every partition of ops gets its own budget of StepBudget units.
		b := budgets[tp]
		if b == nil {
			b = &budget{limit: opts.StepBudget}
			budgets[tp] = b
		}
		return b
	})
	// Verbose mode: it checks every partition to the end instead of stopping
	// at the first illegal one, which gives per-partition answers, and it
	// keeps the partial linearizations the visualization needs.
	res, info := porcupine.CheckOperationsVerbose(model, ops, opts.Timeout)

	var out LinearizabilityResult
	switch res {
	case porcupine.Ok:
		out.Verdict = VerdictOK
	case porcupine.Illegal:
		out.Verdict = VerdictIllegal
	default:
		out.Verdict = VerdictUnknown
	}
	for _, b := range budgets {
		out.Steps = max(out.Steps, b.used)
	}
	if out.Verdict != VerdictOK {
		out.Unlinearized = unlinearized(ops, info)
	}
	if out.Verdict == VerdictIllegal {
		// A partition that ran out of budget has no successor states
		// from then on, so porcupine calls it illegal; it is undecided.
		illegal := 0
		for _, tp := range out.Unlinearized {
			if budgets[tp].exhausted() {
				out.Undecided = append(out.Undecided, tp)
			} else {
				illegal++
			}
		}
		if illegal == 0 {
			out.Verdict = VerdictUndecided
		}
	}
	if out.Verdict == VerdictIllegal && opts.VisualizationDir != "" {
		path, err := writeVisualization(model, info, opts)
		if err != nil {
			return out, err
		}
		out.VisualizationPath = path
	}
	return out, nil
}

// unlinearized lists the partitions without a complete linearization. It
// relies on porcupine reporting partitions in the order the model's
// Partition function returned them, which partitionOperations sorts.
func unlinearized(ops []porcupine.Operation, info porcupine.LinearizationInfo) []TopicPartition {
	parts := partitionOperations(ops)
	partials := info.PartialLinearizations()
	var out []TopicPartition
	for i, part := range parts {
		complete := false
		if i < len(partials) {
			for _, p := range partials[i] {
				if len(p) == len(part) {
					complete = true
					break
				}
			}
		}
		if !complete {
			out = append(out, part[0].Input.(*modelInput).op.Partition)
		}
	}
	return out
}

// writeVisualization writes porcupine's HTML view of the check.
func writeVisualization(model porcupine.Model, info porcupine.LinearizationInfo, opts Options) (string, error) {
	name := opts.VisualizationName
	if name == "" {
		name = DefaultVisualizationName
	}
	if err := os.MkdirAll(opts.VisualizationDir, 0o755); err != nil {
		return "", fmt.Errorf("linearizability: create visualization dir: %w", err)
	}
	path := filepath.Join(opts.VisualizationDir, name)
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		return "", fmt.Errorf("linearizability: write visualization %s: %w", path, err)
	}
	return path, nil
}

// Report is the combined result of Check.
type Report struct {
	// Linearizability is porcupine's answer.
	Linearizability LinearizabilityResult
	// Findings are the offset checks' findings, in a deterministic order.
	Findings []Finding
}

// OK reports whether the history passed: linearizable and no findings. An
// Unknown verdict is not OK; callers that want to tolerate it can look at
// the fields.
func (r Report) OK() bool {
	return r.Linearizability.Verdict == VerdictOK && len(r.Findings) == 0
}

// String renders the report, one finding per line.
func (r Report) String() string {
	var b strings.Builder
	b.WriteString(r.Linearizability.String())
	for _, f := range r.Findings {
		b.WriteString("\n" + f.String())
	}
	return b.String()
}

// Check runs CheckOffsets and CheckLinearizability on history. The offset
// checks run first: they are fast and their findings name exact offsets,
// which explains most porcupine failures.
func Check(history []Op, opts Options) (Report, error) {
	findings, err := CheckOffsets(history)
	if err != nil {
		return Report{}, err
	}
	lin, err := CheckLinearizability(history, opts)
	report := Report{Linearizability: lin, Findings: findings}
	if err != nil {
		return report, err
	}
	return report, nil
}
