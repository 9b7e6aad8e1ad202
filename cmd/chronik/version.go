package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what `chronik version` prints: the module version (a tag,
// a pseudo-version, or "(devel)" for a build from a work tree), the VCS
// commit the binary was built from and the Go toolchain. `go run` and
// builds with -buildvcs=false carry no VCS information; the commit is
// "unknown" then.
type versionInfo struct {
	module   string
	commit   string
	modified bool
	goVer    string
	platform string
}

// readVersionInfo reads the build information embedded in the binary.
func readVersionInfo() versionInfo {
	v := versionInfo{module: "unknown", commit: "unknown", goVer: runtime.Version(), platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.module = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.commit = s.Value
		case "vcs.modified":
			v.modified = s.Value == "true"
		}
	}
	return v
}

// String is the text printed by `chronik version` and `chronik --version`.
func (v versionInfo) String() string {
	commit := v.commit
	if v.modified {
		commit += " (with uncommitted changes)"
	}
	return fmt.Sprintf("chronik %s\ncommit: %s\ngo: %s %s\n", v.module, commit, v.goVer, v.platform)
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit and the Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return printVersion(cmd)
		},
	}
}

// printVersion writes the version to the command's output.
func printVersion(cmd *cobra.Command) error {
	_, err := fmt.Fprint(cmd.OutOrStdout(), readVersionInfo())
	return err
}
