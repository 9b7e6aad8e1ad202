package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagError turns a flag parsing error into one that also suggests the
// closest flag name of cmd for a mistyped one and points to --help; cobra's
// own suggestions cover command names only.
func flagError(cmd *cobra.Command, err error) error {
	var b strings.Builder
	b.WriteString(err.Error())
	if name, ok := unknownFlagName(err.Error()); ok {
		if s := closestFlag(cmd.Flags(), name); s != "" {
			fmt.Fprintf(&b, "\ndid you mean --%s?", s)
		}
	}
	fmt.Fprintf(&b, "\nrun '%s --help' for the list of flags", cmd.CommandPath())
	return errors.New(b.String())
}

// unknownFlagName extracts the name from pflag's "unknown flag: --name" (or
// "--name=value") message.
func unknownFlagName(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "unknown flag: --")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "=")
	return name, name != ""
}

// closestFlag returns the flag of fs nearest to name: one that name is a
// prefix of or that contains it as a part, or else one within an edit
// distance of a third of its length (at least 2). Ties go to the first in
// sorted order, so the suggestion is stable.
func closestFlag(fs *pflag.FlagSet, name string) string {
	best, bestDist := "", -1
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(name, f.Name)
		if strings.HasPrefix(f.Name, name) || strings.Contains(f.Name, "-"+name) {
			d = min(d, 1)
		}
		if d <= max(2, len(name)/3) && (bestDist < 0 || d < bestDist) {
			best, bestDist = f.Name, d
		}
	})
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes; flag
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// unknownCommand is the root's argument check: the root runs serve and
// takes no arguments, so an argument is a mistyped command, answered with
// cobra's closest command name and a pointer to --help.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		fmt.Fprintf(&b, "\ndid you mean %q?", s[0])
	}
	fmt.Fprintf(&b, "\nrun '%s --help' for the list of commands", cmd.CommandPath())
	return errors.New(b.String())
}
