package sim

import (
	"path"
	"slices"
	"strings"

	"github.com/chronik-streaming/chronik/core/disk/memdisk"
)

// segIndex caches what the checkers and the coverage counters derive from
// the names in one partition directory: its segment files, current and
// durable (those a power loss keeps), by base offset. The hw-durable rule
// looks a batch up on several disks for every new high watermark served;
// walking and sorting the names each time was 4% of a cluster run. The
// current list is valid while its memdisk's NamesVersion stays (any
// create, rename, removal or directory sync moves it), the durable one
// while its DurableNamesVersion stays (any change of a durable name moves
// it; a segment created or removed moves it only once a directory sync
// made that durable), so a lookup never sees names older than the disk's.
type segIndex struct {
	dir string
	// segs and durable hold the segment files (full names, sorted by
	// base offset), nil until asked for; ok says which were built, at
	// which version of the names.
	segs, durable               []segFile
	segsOK, durableOK           bool
	segsVersion, durableVersion uint64
}

// segFile is one segment file and its base offset.
type segFile struct {
	base int64
	name string
}

// segIndexOf returns the index of dir on md; its lists are rebuilt
// lazily (segmentFilesOf).
func (d *simDisk) segIndexOf(md *memdisk.Disk, dir string) *segIndex {
	if d.segs == nil {
		d.segs = map[*memdisk.Disk]*segIndex{}
	}
	ix := d.segs[md]
	if ix == nil || ix.dir != dir {
		ix = &segIndex{dir: dir}
		d.segs[md] = ix
	}
	return ix
}

// forgetSegIndex drops the indexes of memdisks that left the disk (a
// removed partition directory, a power loss), so that the cache holds no
// memory of their own.
func (d *simDisk) forgetSegIndex(md *memdisk.Disk) { delete(d.segs, md) }

// segmentFilesOf lists dir's segment files on md by base offset: the
// durable ones (what a power loss keeps) or the current ones. The slice
// belongs to the index.
func (d *simDisk) segmentFilesOf(md *memdisk.Disk, dir string, durable bool) []segFile {
	ix := d.segIndexOf(md, dir)
	if durable {
		if v := md.DurableNamesVersion(); !ix.durableOK || ix.durableVersion != v {
			ix.durableOK, ix.durableVersion = true, v
			// The names come unsorted: sortSegFiles orders them. The
			// previous list's array is reused: both callers read the
			// list at once and keep nothing of it.
			out := ix.durable[:0]
			md.EachDurableName(func(name string) bool { return inSegmentDir(dir, name) }, func(name string) {
				if base, ok := segmentBase(dir, name); ok {
					out = append(out, segFile{base: base, name: name})
				}
			})
			sortSegFiles(out)
			ix.durable = out
		}
		return ix.durable
	}
	if v := md.NamesVersion(); !ix.segsOK || ix.segsVersion != v {
		ix.segsOK, ix.segsVersion = true, v
		ix.segs = nil
		if list, err := md.List(dir); err == nil {
			var names []string
			for _, name := range list {
				names = append(names, path.Join(dir, name))
			}
			ix.segs = segFilesOf(dir, names)
		}
	}
	return ix.segs
}

// segFilesOf keeps the segment files among names, by base offset.
func segFilesOf(dir string, names []string) []segFile {
	var out []segFile
	for _, name := range names {
		if base, ok := segmentBase(dir, name); ok {
			out = append(out, segFile{base: base, name: name})
		}
	}
	sortSegFiles(out)
	return out
}

// sortSegFiles orders segment files by base offset whatever their order
// (names are unique, so no two compare equal).
func sortSegFiles(out []segFile) {
	slices.SortFunc(out, func(a, b segFile) int {
		switch {
		case a.base != b.base:
			if a.base < b.base {
				return -1
			}
			return 1
		default:
			// Equal bases (never in practice): the name that sorts
			// first is the one segmentHolding picks, as before.
			return strings.Compare(b.name, a.name)
		}
	})
}

// segmentHolding returns the segment of segs (sorted by base) with the
// highest base at or below off: the one that may hold off.
func segmentHolding(segs []segFile, off int64) (segFile, bool) {
	i, _ := slices.BinarySearchFunc(segs, off, func(s segFile, off int64) int {
		if s.base <= off {
			return -1
		}
		return 1
	})
	if i == 0 {
		return segFile{}, false
	}
	return segs[i-1], true
}
