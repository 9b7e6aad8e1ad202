package group

// KIP-848 regex subscriptions: a member may subscribe with
// SubscribedTopicRegex (alone or with topic names). The regex is matched
// against the whole name of every topic in the broker's image except the
// internal ones, as Kafka does (RE2/J there, Go's RE2 here: the same
// syntax). Matching is redone when a member's regex changes, after a
// load, and otherwise at most every ConsumerRegexRefreshMs, on the
// group's next heartbeat: a topic created later joins the assignment
// within that interval.

import (
	"fmt"
	"regexp"
	"sort"
)

// compileTopicRegex compiles a subscription regex for whole-name matches.
func compileTopicRegex(expr string, maxBytes int) (*regexp.Regexp, error) {
	if len(expr) > maxBytes {
		return nil, fmt.Errorf("longer than %d bytes", maxBytes)
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return nil, err
	}
	return re, nil
}

// subscribed is every topic name m subscribes to: its names and its
// regex's current matches, sorted.
func (m *cmember) subscribed() []string {
	switch {
	case len(m.regexTopics) == 0:
		return m.topics
	case len(m.topics) == 0:
		return m.regexTopics
	}
	out := append(append([]string(nil), m.topics...), m.regexTopics...)
	sort.Strings(out)
	return dedupStrings(out)
}

// refreshRegexes matches g's members' regexes against the topics again
// when due, and reports whether any member's matches changed (which
// changes the group's subscriptions, so its epoch must move).
func (s *Shard) refreshRegexes(nowMs int64, g *cgroup) bool {
	if !g.regexStale && nowMs-g.regexAtMs < s.cfg.ConsumerRegexRefreshMs {
		return false
	}
	g.regexStale, g.regexAtMs = false, nowMs
	var names []string
	if s.topics != nil {
		names = s.topics.TopicNames()
	}
	matchesOf := map[string][]string{} // one pass per distinct regex
	changed := false
	for _, m := range g.sortedMembers() {
		var matched []string
		if m.regex != "" {
			var seen bool
			if matched, seen = matchesOf[m.regex]; !seen {
				// A regex that does not compile here (one replayed from a
				// log Kafka wrote, in RE2/J-only syntax) matches nothing.
				if re, err := compileTopicRegex(m.regex, s.cfg.MaxTopicRegexBytes); err == nil {
					for _, name := range names {
						if re.MatchString(name) {
							matched = append(matched, name)
						}
					}
				}
				matchesOf[m.regex] = matched
			}
		}
		if !equalStrings(matched, m.regexTopics) {
			m.regexTopics, changed = matched, true
		}
	}
	return changed
}
