package metadata

import (
	"maps"
	"slices"
)

// Clone returns a deep copy of e, equal to what DecodeEntry gives for e's
// encoding when e came from DecodeEntry (nil and empty slices and maps
// stay as they were). A process that holds several brokers (the
// simulator) decodes each committed entry once and gives every broker a
// copy of its own, as JSON decoding cost several times what copying
// does. TestEntryCloneIsDeep fails when a field is added that Clone
// would share.
func (e *Entry) Clone() *Entry {
	c := *e
	c.Records = slices.Clone(e.Records)
	for i := range c.Records {
		r := &c.Records[i]
		r.RegisterBroker = clonePtr(r.RegisterBroker)
		r.FenceBroker = clonePtr(r.FenceBroker)
		r.UnfenceBroker = clonePtr(r.UnfenceBroker)
		if r.CreateTopic != nil {
			ct := *r.CreateTopic
			ct.Assignment = cloneAssignment(ct.Assignment)
			ct.Configs = maps.Clone(ct.Configs)
			r.CreateTopic = &ct
		}
		r.DeleteTopic = clonePtr(r.DeleteTopic)
		if r.CreatePartitions != nil {
			cp := *r.CreatePartitions
			cp.Assignment = cloneAssignment(cp.Assignment)
			r.CreatePartitions = &cp
		}
		if r.ChangeISR != nil {
			ci := *r.ChangeISR
			ci.ISR = slices.Clone(ci.ISR)
			r.ChangeISR = &ci
		}
		r.ResignLeadership = clonePtr(r.ResignLeadership)
		if r.SetTopicConfigs != nil {
			sc := *r.SetTopicConfigs
			sc.Configs = maps.Clone(sc.Configs)
			r.SetTopicConfigs = &sc
		}
		r.AllocateProducerIDs = clonePtr(r.AllocateProducerIDs)
	}
	return &c
}

// clonePtr copies a record without slices or maps.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func cloneAssignment(a [][]int32) [][]int32 {
	c := slices.Clone(a)
	for i := range c {
		c[i] = slices.Clone(c[i])
	}
	return c
}
